"""Door staff (DESIGN §1): organisers assign a member of the hub to check
tickets at one event; the assignment lapses when the event ends.

Door staff type or scan one ticket code at a time and learn only whether it
admits someone: valid, already used or not for this event, with at most the
display name on that one ticket. They never get a list. Assigning and
removing are audited; each check-in is audited as any other (the
attendees service), except in hubs that keep no check-in records.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from community import audit
from community.auth.models import User
from community.database import is_public_id, utcnow
from community.errors import DomainError
from community.events.attendees import services as attendees
from community.events.door.models import DoorStaff
from community.events.models import Event, EventStatus
from community.extensions import db
from community.hubs.models import Hub, HubStatus, Membership, MembershipStatus
from community.permissions import door_staff_active, name_in_hub
from community.transaction import atomic

TARGET_EVENT = "event"


class DoorError(DomainError):
    """A door-staff rule refused the change; ``message`` is translated."""


class Verdict(enum.Enum):
    VALID = "valid"
    ALREADY_USED = "already_used"
    WRONG_EVENT = "wrong_event"
    INVALID = "invalid"


@dataclass(frozen=True)
class DoorResult:
    """What the door page shows for one code: the verdict, and for a valid or
    used ticket of this event the name on it, its guests and the first use."""

    verdict: Verdict
    name: str = ""
    guests: int = 0
    already_at: datetime | None = None
    recorded: bool = False
    message: str = ""


# --- organisers -------------------------------------------------------------------

def _require(actor, event: Event) -> None:
    if not attendees.may_manage(actor, event):
        raise DoorError(_("You may not manage this event's door staff."))


def assignments(event: Event) -> list[DoorStaff]:
    """The event's door staff, by display name."""
    return list(db.session.scalars(
        select(DoorStaff).join(DoorStaff.user).options(joinedload(DoorStaff.user))
        .where(DoorStaff.event_id == event.id).order_by(User.display_name, DoorStaff.id)))


def candidates(event: Event) -> list[Membership]:
    """Active members of the event's hub who are not door staff of it yet."""
    assigned = select(DoorStaff.user_id).where(DoorStaff.event_id == event.id)
    return list(db.session.scalars(
        select(Membership).join(Membership.user).options(joinedload(Membership.user))
        .where(Membership.hub_id == event.hub_id,
               Membership.status == MembershipStatus.ACTIVE,
               Membership.user_id.not_in(assigned))
        .order_by(User.display_name, Membership.id)))


def _open_for_door(event: Event) -> bool:
    return event.status is EventStatus.PUBLISHED and utcnow() < event.ends_at


@atomic
def assign(actor, event: Event, membership_id: str) -> DoorStaff:
    """Make the member with this membership id door staff of ``event``, audited.
    Raises DoorError unless ``actor`` manages the event, the event is published
    and not over, and the person is an active member of the hub not yet assigned."""
    _require(actor, event)
    if not _open_for_door(event):
        raise DoorError(_("Door staff can only be chosen for a published event that "
                          "has not ended."), "member")
    membership = None
    if is_public_id(membership_id):
        membership = db.session.scalar(select(Membership).where(
            Membership.public_id == membership_id, Membership.hub_id == event.hub_id,
            Membership.status == MembershipStatus.ACTIVE))
    if membership is None:
        raise DoorError(_("Choose a member of the hub from the list."), "member")
    if db.session.scalar(select(DoorStaff.id).where(
            DoorStaff.event_id == event.id, DoorStaff.user_id == membership.user_id)):
        raise DoorError(_("%(name)s is already door staff of this event.",
                          name=membership.shown_name), "member")
    staff = DoorStaff(event_id=event.id, user_id=membership.user_id, assigned_by_id=actor.id)
    db.session.add(staff)
    audit.record(actor, "door.assign", TARGET_EVENT, event.public_id, hub=event.hub,
                 subject_user=membership.user)
    db.session.flush()
    return staff


@atomic
def remove(actor, event: Event, staff_id: str) -> str:
    """Take one person off the event's door staff, audited; returns their name.
    Raises DoorError for an id that is not door staff of this event."""
    _require(actor, event)
    staff = None
    if is_public_id(staff_id):
        staff = db.session.scalar(select(DoorStaff).options(joinedload(DoorStaff.user)).where(
            DoorStaff.public_id == staff_id, DoorStaff.event_id == event.id))
    if staff is None:
        raise DoorError(_("That person is not door staff of this event."))
    name = name_in_hub(staff.user, event.hub_id)
    audit.record(actor, "door.remove", TARGET_EVENT, event.public_id, hub=event.hub,
                 subject_user=staff.user)
    db.session.delete(staff)
    db.session.flush()
    return name


# --- door staff ---------------------------------------------------------------------

def door_event(public_id: str, user) -> Event | None:
    """The event with this id if ``user`` is its door staff now; None otherwise,
    for a missing event and a forbidden one alike (R8)."""
    event = attendees.event_by_id(public_id)
    if event is None or not door_staff_active(user, event):
        return None
    return event


def my_duties(user) -> list[Event]:
    """Events ``user`` checks tickets at and that have not ended, soonest first."""
    return list(db.session.scalars(
        select(Event).join(DoorStaff, DoorStaff.event_id == Event.id).join(Event.hub)
        .join(Membership, (Membership.hub_id == Event.hub_id)
              & (Membership.user_id == DoorStaff.user_id))
        .options(joinedload(Event.hub))
        .where(DoorStaff.user_id == user.id, Event.status == EventStatus.PUBLISHED,
               Event.ends_at > utcnow(), Hub.status == HubStatus.ACTIVE,
               Membership.status == MembershipStatus.ACTIVE)
        .order_by(Event.starts_at, Event.id)))


def check_ticket(actor, event: Event, code: str) -> DoorResult:
    """Check one ticket code at the door of ``event`` through the attendees
    service (same rules, same audit). The name is given only for a ticket of
    this event that admits its holder; a ticket of another event, a withdrawn
    or unconfirmed answer and a garbled code say nothing about anyone."""
    try:
        result = attendees.check_in_code(actor, event, code)
    except attendees.WrongEvent:
        return DoorResult(Verdict.WRONG_EVENT)
    except attendees.TicketError:
        return DoorResult(Verdict.INVALID)
    except attendees.AttendeeError as error:
        return DoorResult(Verdict.INVALID, message=error.message)
    verdict = Verdict.ALREADY_USED if result.already_at is not None else Verdict.VALID
    return DoorResult(verdict, name=result.name, guests=result.rsvp.guests,
                      already_at=result.already_at, recorded=result.recorded)
