"""Organiser rules for an event's attendees: the lists, moving people between
them without overbooking, the CSV export, messages, tickets and check-in.

Only the hub's organisers and leads, its chapter's coordinators and site
admins may use these (R1); routes answer 404 before calling, and each
function checks again. Every opening of a list, export, message and change
writes audit entries in the caller's transaction (DESIGN §2 rule 8, R45).
People are shown by display name only, never by email (R2). Refusals raise
AttendeeError with a translated message for the page.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import func, select, update
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import joinedload

from community import audit
from community.audit_models import AuditEntry
from community.auth.models import User
from community.database import is_public_id, utcnow
from community.errors import DomainError
from community.events.models import Event, EventStatus, Rsvp, RsvpStatus
from community.events.services import lock_event, promote_waitlist, seats_left, seats_taken
from community.extensions import db
from community.hubs.services import escape_like
from community.i18n import format_in_zone, rsvp_status_label
from community.mail import InvalidRecipient, queue_templated_email
from community.permissions import (
    HubAction,
    door_staff_active,
    hub_can,
    name_in_hub,
    travelling,
)
from community.security import absolute_url, csv_cell
from community.transaction import atomic

MESSAGE_SUBJECT_MAX_LENGTH = 150
MESSAGE_BODY_MAX_LENGTH = 5000
TICKET_CODE_MAX_LENGTH = 200
TICKET_SALT = "harbour:ticket"
# Who a message can go to. "all" leaves out declined answers: those people
# are not coming, and a declined group can be written to on its own.
MESSAGE_GROUPS = {
    "all": (RsvpStatus.GOING, RsvpStatus.WAITLISTED, RsvpStatus.PENDING),
    "going": (RsvpStatus.GOING,),
    "waitlisted": (RsvpStatus.WAITLISTED,),
    "pending": (RsvpStatus.PENDING,),
    "declined": (RsvpStatus.DECLINED,),
}
LIST_ORDER = (RsvpStatus.GOING, RsvpStatus.WAITLISTED, RsvpStatus.PENDING, RsvpStatus.DECLINED)
# Spreadsheets run a cell that starts with one of these as a formula.
# A member can see who looked at their RSVP (DESIGN §2 rule 8). Reloading the
# list after each approval would write one entry per attendee per reload, so
# within this window an organiser's repeat views of the same person are
# covered by the first entry; every opening still gets its own entry.
PERSON_VIEW_WINDOW = timedelta(minutes=10)

TARGET_EVENT = "event"
TARGET_RSVP = "rsvp"


class AttendeeError(DomainError):
    """An attendee rule refused the request; ``message`` is translated."""


class TicketError(AttendeeError):
    """A ticket code that does not admit anyone to this event."""


class WrongEvent(TicketError):
    """A genuine ticket, for another event."""


@dataclass(frozen=True)
class CheckIn:
    """What a check-in did: ``recorded`` when it stored the time now,
    ``already_at`` when the person was checked in before, neither when the
    hub keeps no check-in records and the ticket was only validated."""

    rsvp: Rsvp
    recorded: bool
    already_at: datetime | None = None

    @property
    def name(self) -> str:
        """The name on the ticket: the one its holder uses in the event's hub."""
        return name_in_hub(self.rsvp.user, self.rsvp.event.hub_id)


# --- finding ------------------------------------------------------------------

def may_manage(user, event: Event) -> bool:
    """Whether ``user`` may see and change this event's attendees (R1)."""
    return hub_can(user, HubAction.MANAGE_MEMBERS, event.hub)


def managed_event(public_id: str, user) -> Event | None:
    """The event with this id if ``user`` may manage its attendees; None for
    a missing event and a forbidden one alike (R8)."""
    event = event_by_id(public_id)
    if event is None or not may_manage(user, event):
        return None
    return event


def event_by_id(public_id: str) -> Event | None:
    """The event with this public id, or None for anything that cannot be one."""
    if not is_public_id(public_id):
        return None
    return db.session.scalar(select(Event).where(Event.public_id == public_id))


def rsvp_in(event: Event, public_id: str) -> Rsvp | None:
    """The answer with this id to ``event``; None for another event's (R9)
    and for anonymised rows, which belong to nobody."""
    if not is_public_id(public_id):
        return None
    return db.session.scalar(
        select(Rsvp).options(joinedload(Rsvp.user))
        .where(Rsvp.public_id == public_id, Rsvp.event_id == event.id,
               Rsvp.user_id.is_not(None))
    )


def own_ticket(event: Event, user) -> Rsvp | None:
    """``user``'s confirmed answer to ``event``: only a confirmed place has a
    ticket, and none shows while travel mode is on."""
    if user is None or not user.is_authenticated or travelling(user):
        return None
    return db.session.scalar(
        select(Rsvp).where(Rsvp.event_id == event.id, Rsvp.user_id == user.id,
                           Rsvp.status == RsvpStatus.GOING)
    )


def _require(actor, event: Event) -> None:
    # The routes answer 404 first; this keeps the rule true for any caller.
    if not may_manage(actor, event):
        raise AttendeeError(_("You may not manage this event's attendees."))


def may_check_tickets(user, event: Event) -> bool:
    """Organisers of the event, and its door staff while the event lasts."""
    return may_manage(user, event) or door_staff_active(user, event)


def _answers(event: Event, statuses=LIST_ORDER, query: str = "") -> list[Rsvp]:
    stmt = (
        select(Rsvp).join(Rsvp.user).options(joinedload(Rsvp.user))
        .where(Rsvp.event_id == event.id, Rsvp.status.in_(statuses))
    )
    query = (query or "").strip()[:100]
    if query:
        pattern = f"%{escape_like(query.casefold())}%"
        stmt = stmt.where(func.lower(User.display_name).like(pattern, escape="\\"))
        return list(db.session.scalars(stmt.order_by(User.display_name, Rsvp.id)))
    # First come, first served: the order the waiting list is promoted in.
    return list(db.session.scalars(stmt.order_by(Rsvp.created_at, Rsvp.id)))


# --- the audit trail ------------------------------------------------------------

def _people_seen_recently(actor, action: str, event: Event, now: datetime) -> set[int]:
    return set(db.session.scalars(
        select(AuditEntry.subject_user_id).where(
            AuditEntry.actor_id == actor.id, AuditEntry.action == action,
            AuditEntry.target_type == TARGET_EVENT, AuditEntry.target_id == event.public_id,
            AuditEntry.subject_user_id.is_not(None),
            AuditEntry.created_at >= now - PERSON_VIEW_WINDOW,
        )
    ))


def _record_opening(actor, action: str, event: Event, answers: list[Rsvp], detail: str,
                    *, every_time: bool) -> None:
    """One entry for the opening itself (what hub leads read), then one per
    listed person with subject_user set (what each member can read about
    themselves). ``every_time`` turns off the window for repeat views."""
    audit.record(actor, action, TARGET_EVENT, event.public_id, hub=event.hub, detail=detail)
    already = set() if every_time else _people_seen_recently(actor, action, event, utcnow())
    for answer in answers:
        if answer.user_id is not None and answer.user_id not in already:
            audit.record(actor, action, TARGET_EVENT, event.public_id, hub=event.hub,
                         subject_user=answer.user)
            already.add(answer.user_id)


def _record_change(actor, action: str, answer: Rsvp, before: RsvpStatus) -> None:
    audit.record(actor, action, TARGET_RSVP, answer.public_id, hub=answer.event.hub,
                 subject_user=answer.user, detail=f"{before.value}->{answer.status.value}")


# --- the lists ----------------------------------------------------------------

@dataclass(frozen=True)
class AttendeeLists:
    """An event's answers by status, each list oldest first."""

    groups: dict[RsvpStatus, list[Rsvp]]
    seats_taken: int
    seats_left: int | None

    @property
    def everyone(self) -> list[Rsvp]:
        return [answer for answers in self.groups.values() for answer in answers]


def open_attendee_list(actor, event: Event) -> AttendeeLists:
    """The attendee lists of ``event``, written to the audit trail as one
    opening plus one entry per listed person (R45). Raises AttendeeError for
    anyone who may not manage the event."""
    _require(actor, event)
    answers = _answers(event)
    groups: dict[RsvpStatus, list[Rsvp]] = {status: [] for status in LIST_ORDER}
    for answer in answers:
        groups[answer.status].append(answer)
    _record_opening(actor, "attendees.view", event, answers,
                    f"list=attendees count={len(answers)}", every_time=False)
    db.session.flush()
    return AttendeeLists(groups, seats_taken(event), seats_left(event))


def checkin_list(actor, event: Event, query: str = "") -> list[Rsvp]:
    """Confirmed attendees whose display name contains ``query``, by name,
    audited like any other opening of an attendee list. Raises AttendeeError."""
    _require(actor, event)
    answers = _answers(event, (RsvpStatus.GOING,), query)
    _record_opening(actor, "attendees.view", event, answers,
                    f"list=checkin count={len(answers)}", every_time=False)
    db.session.flush()
    return answers


# --- moving people between the lists ------------------------------------------------

def _reread(answer: Rsvp) -> RsvpStatus:
    """The answer's status as committed now, after the event's lock is held:
    another organiser may have moved it, or its owner withdrawn it, since the
    page was loaded. Raises AttendeeError when it is gone."""
    _refresh(answer, AttendeeError)
    return answer.status


def _refresh(answer: Rsvp, error: type[AttendeeError]) -> None:
    try:
        db.session.refresh(answer)
    except InvalidRequestError as gone:
        raise error(_("That answer has just been withdrawn.")) from gone


@atomic
def confirm(actor, answer: Rsvp) -> None:
    """Give a pending, waitlisted or declined person a place and email them
    (title, date and link only, R44). Capacity, guests included, is never
    exceeded, even when two organisers confirm at once (it takes the event's
    lock before counting). Raises AttendeeError when they are already going,
    the event is cancelled or there is not enough room."""
    event = answer.event
    _require(actor, event)
    lock_event(event)
    before = _reread(answer)
    name = name_in_hub(answer.user, answer.event.hub_id)
    if before is RsvpStatus.GOING:
        raise AttendeeError(_("%(name)s is already going.", name=name))
    if event.status is EventStatus.CANCELLED:
        raise AttendeeError(_("This event is cancelled."))
    left = seats_left(event)
    needed = 1 + answer.guests
    if left is not None and left < needed:
        raise AttendeeError(_("There is not enough room: %(name)s needs %(needed)d places, "
                              "guests included, and %(left)d are left.",
                              name=name, needed=needed, left=left))
    answer.status = RsvpStatus.GOING
    _record_change(actor, "rsvp.confirm", answer, before)
    person = answer.user
    if person is not None:
        # Title, date and a link only: never the address (R44).
        queue_templated_email(
            to_address=person.email, locale=person.locale, template="rsvp_confirmed",
            user_id=person.id, display_name=person.display_name, event=event,
            event_url=absolute_url("events.detail", public_id=event.public_id),
        )
    db.session.flush()


@atomic
def waitlist(actor, answer: Rsvp) -> None:
    """Put someone on the waiting list. A place freed this way is not offered
    to the next in line at once: the person moved is usually first in the
    queue by age and would be promoted straight back. Raises AttendeeError
    when they are on it already."""
    event = answer.event
    _require(actor, event)
    lock_event(event)
    before = _reread(answer)
    if before is RsvpStatus.WAITLISTED:
        raise AttendeeError(_("%(name)s is already on the waiting list.",
                              name=name_in_hub(answer.user, answer.event.hub_id)))
    answer.status = RsvpStatus.WAITLISTED
    _record_change(actor, "rsvp.waitlist", answer, before)
    db.session.flush()


@atomic
def decline(actor, answer: Rsvp) -> list[Rsvp]:
    """Decline someone's answer. A place it frees goes to the waiting list,
    first come first served (promote_waitlist emails them). Returns the
    people promoted. Raises AttendeeError when it is declined already."""
    event = answer.event
    _require(actor, event)
    lock_event(event)
    before = _reread(answer)
    if before is RsvpStatus.DECLINED:
        raise AttendeeError(_("%(name)s is already declined.",
                              name=name_in_hub(answer.user, answer.event.hub_id)))
    answer.status = RsvpStatus.DECLINED
    _record_change(actor, "rsvp.decline", answer, before)
    db.session.flush()
    return promote_waitlist(event) if before is RsvpStatus.GOING else []


# --- export -------------------------------------------------------------------

def export_csv(actor, event: Event) -> str:
    """The attendee lists as CSV: display name, status, guests, check-in time
    in the event's zone. No email or other contact detail, by design (R2).
    Audited as one export plus one entry per person in it. Raises AttendeeError."""
    _require(actor, event)
    answers = _answers(event)
    zone = ZoneInfo(event.timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in (_("Display name"), _("Status"), _("Guests"),
                                           _("Checked in"))])
    for answer in answers:
        checked = (answer.checked_in_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                   if answer.checked_in_at else "")
        writer.writerow([csv_cell(name_in_hub(answer.user, event.hub_id)),
                         csv_cell(rsvp_status_label(answer.status)),
                         csv_cell(answer.guests), csv_cell(checked)])
    _record_opening(actor, "attendees.export", event, answers,
                    f"count={len(answers)}", every_time=True)
    db.session.flush()
    # A byte order mark, so spreadsheet programs read Chinese names as UTF-8.
    return "\ufeff" + out.getvalue()


# --- messages -----------------------------------------------------------------

def paused_in(answers: list[Rsvp]) -> int:
    """How many of these people get no email now (travel mode, issue 16): all an
    organiser learns of it is this count, shown as "paused"."""
    return sum(1 for answer in answers
               if answer.user is not None and answer.user.travel_mode_since is not None)


def paused_in_group(event: Event, group: str) -> int:
    return paused_in(_answers(event, MESSAGE_GROUPS.get(group, ())))


@atomic
def message_attendees(actor, event: Event, *, group: str, subject: str, body: str) -> int:
    """Email one group of attendees, one email each, so nobody sees another
    recipient and nobody sees the organiser's address (R44). Sending the same
    message to the same person twice is skipped. Returns how many emails were
    queued. Raises AttendeeError for an unknown group, an empty or overlong
    subject or body, and a group with nobody (left) to write to."""
    _require(actor, event)
    statuses = MESSAGE_GROUPS.get(group)
    if statuses is None:
        raise AttendeeError(_("Choose who gets the message."))
    subject = (subject or "").strip()
    body = (body or "").replace("\r\n", "\n").strip()
    if not subject or len(subject) > MESSAGE_SUBJECT_MAX_LENGTH:
        raise AttendeeError(_("Write a subject of at most %(max)d characters.",
                              max=MESSAGE_SUBJECT_MAX_LENGTH))
    if not body or len(body) > MESSAGE_BODY_MAX_LENGTH:
        raise AttendeeError(_("Write a message of at most %(max)d characters.",
                              max=MESSAGE_BODY_MAX_LENGTH))
    recipients = _answers(event, statuses)
    if not recipients:
        raise AttendeeError(_("Nobody is in that group."))
    digest = hashlib.sha256(f"{subject}\n{body}".encode()).hexdigest()[:24]
    event_url = absolute_url("events.detail", public_id=event.public_id)
    sent = 0
    for answer in recipients:
        person = answer.user
        if person.travel_mode_since is not None:
            continue  # paused: the route says how many, never who or why
        try:
            queued = queue_templated_email(
                to_address=person.email, locale=person.locale, template="organiser_message",
                user_id=person.id, event=event, hub=event.hub, event_url=event_url,
                message_subject=subject, message_body=body,
                dedupe_key=f"organiser-message:{answer.public_id}:{digest}",
            )
        except InvalidRecipient:
            continue  # an address that can never be delivered to; the rest still go
        sent += queued is not None
    if not sent and paused_in(recipients):
        raise AttendeeError(_("Emails to everyone in that group are paused."))
    if not sent:
        raise AttendeeError(_("Everyone in that group already has this message."))
    audit.record(actor, "attendees.message", TARGET_EVENT, event.public_id, hub=event.hub,
                 detail=f"group={group} recipients={sent}")
    db.session.flush()
    return sent


# --- tickets and check-in -------------------------------------------------------

def _serializer(secret_key: str | None = None) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key or current_app.config["SECRET_KEY"], salt=TICKET_SALT)


def ticket_code(answer: Rsvp, secret_key: str | None = None) -> str:
    """The signed code on a ticket: the RSVP's public id, so a withdrawn
    answer's ticket stops working with it."""
    return _serializer(secret_key).dumps(answer.public_id)


def read_ticket(code: str, secret_key: str | None = None) -> str:
    """The RSVP id a ticket code carries. Raises TicketError for anything we did not sign."""
    code = "".join((code or "").split())
    if not code or len(code) > TICKET_CODE_MAX_LENGTH:
        raise TicketError(_("This is not a valid ticket."))
    try:
        payload = _serializer(secret_key).loads(code)
    except (BadData, UnicodeError, ValueError) as error:
        raise TicketError(_("This is not a valid ticket.")) from error
    if not is_public_id(payload):
        raise TicketError(_("This is not a valid ticket."))
    return payload


@atomic
def check_in_code(actor, event: Event, code: str, now: datetime | None = None) -> CheckIn:
    """Check in the holder of a ticket code at ``event``. Raises TicketError
    for a forged or garbled code, a withdrawn answer, another event's ticket
    and an unconfirmed place; AttendeeError as check_in does. Door staff may
    use it too, and only it: a code admits one person, never a list."""
    if not may_check_tickets(actor, event):
        raise AttendeeError(_("You may not check tickets at this event."))
    rsvp_id = read_ticket(code)
    answer = db.session.scalar(
        select(Rsvp).options(joinedload(Rsvp.user)).where(Rsvp.public_id == rsvp_id))
    if answer is None or answer.user_id is None:
        raise TicketError(_("This ticket is no longer valid: the answer was withdrawn."))
    if answer.event_id != event.id:
        raise WrongEvent(_("This is not a ticket for this event."))
    return _check_in(actor, event, answer, now)


@atomic
def check_in(actor, event: Event, answer: Rsvp, now: datetime | None = None) -> CheckIn:
    """Record the arrival of a confirmed attendee, once: a second scan reports
    the first time. In a hub that keeps no check-in records (the high-risk
    preset) the ticket is only validated and nothing is stored, not even an
    audit entry naming the person. Raises TicketError for another event's
    answer or an unconfirmed place, AttendeeError for a cancelled event."""
    _require(actor, event)
    return _check_in(actor, event, answer, now)


def _check_in(actor, event: Event, answer: Rsvp, now: datetime | None) -> CheckIn:
    if answer.event_id != event.id:
        raise WrongEvent(_("This is not a ticket for this event."))
    if event.status is EventStatus.CANCELLED:
        raise AttendeeError(_("This event is cancelled."))
    name = name_in_hub(answer.user, answer.event.hub_id)
    if answer.status is not RsvpStatus.GOING:
        raise TicketError(_("%(name)s does not have a confirmed place (%(status)s).",
                            name=name, status=rsvp_status_label(answer.status)))
    if not event.hub.keep_checkin_records:
        return CheckIn(answer, recorded=False)
    # One conditional UPDATE, so two doors scanning the same ticket at once
    # record one arrival and the other is told "already checked in".
    stored = db.session.execute(
        update(Rsvp).where(Rsvp.id == answer.id, Rsvp.checked_in_at.is_(None))
        .values(checked_in_at=now or utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    _refresh(answer, TicketError)
    if not stored:
        return CheckIn(answer, recorded=False, already_at=answer.checked_in_at)
    audit.record(actor, "rsvp.checkin", TARGET_RSVP, answer.public_id, hub=event.hub,
                 subject_user=answer.user)
    db.session.flush()
    return CheckIn(answer, recorded=True)


def checkin_time_text(event: Event, when: datetime) -> str:
    """A check-in time as the viewer's locale writes it, in the event's zone."""
    return format_in_zone(when, event.timezone, "medium", with_zone=True)
