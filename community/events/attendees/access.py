"""Two organisers to open an attendee list (issue 16 item 2; DESIGN §2 rule 11).

In a hub that asks for it (the high-risk preset does), opening or exporting
an event's attendee list needs a second organiser of the hub to agree: one
asks, another approves within REQUEST_WINDOW, and the first may then open the
list for ACCESS_WINDOW. Both steps are audited; the approval is also written
once per attendee, so each sees it on "Who looked at my RSVPs". Checking
tickets by code (organisers and door staff) needs no approval.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from community import audit
from community.database import is_public_id, utcnow
from community.events.attendees.access_models import ListAccessRequest
from community.events.attendees.services import (
    LIST_ORDER,
    TARGET_EVENT,
    AttendeeError,
    _answers,
    _require,
)
from community.events.models import Event
from community.extensions import db
from community.permissions import attendee_list_needs_two_keys
from community.transaction import atomic

REQUEST_WINDOW = timedelta(hours=24)
ACCESS_WINDOW = timedelta(hours=1)


def has_access(user, event: Event, now: datetime | None = None) -> bool:
    """Whether ``user`` may open the list now: always in an ordinary hub; in a
    two-key hub, with a request another organiser approved in the last hour."""
    if not attendee_list_needs_two_keys(event.hub):
        return True
    now = now or utcnow()
    return db.session.scalar(
        select(ListAccessRequest.id).where(
            ListAccessRequest.event_id == event.id,
            ListAccessRequest.requester_id == user.id,
            ListAccessRequest.approved_at.is_not(None),
            ListAccessRequest.approved_at > now - ACCESS_WINDOW).limit(1)) is not None


def my_open_request(user, event: Event, now: datetime | None = None) -> ListAccessRequest | None:
    now = now or utcnow()
    return db.session.scalar(select(ListAccessRequest).where(
        ListAccessRequest.event_id == event.id, ListAccessRequest.requester_id == user.id,
        ListAccessRequest.approved_at.is_(None),
        ListAccessRequest.created_at > now - REQUEST_WINDOW))


def requests_to_approve(user, event: Event, now: datetime | None = None
                        ) -> list[ListAccessRequest]:
    """Other organisers' open requests for this event, oldest first."""
    now = now or utcnow()
    return list(db.session.scalars(
        select(ListAccessRequest).options(joinedload(ListAccessRequest.requester))
        .where(ListAccessRequest.event_id == event.id,
               ListAccessRequest.requester_id != user.id,
               ListAccessRequest.approved_at.is_(None),
               ListAccessRequest.created_at > now - REQUEST_WINDOW)
        .order_by(ListAccessRequest.created_at, ListAccessRequest.id)))


@atomic
def ask(actor, event: Event) -> ListAccessRequest:
    """Ask a second organiser to agree to ``actor`` opening the list, audited.
    Asking again while a request is open returns that one."""
    _require(actor, event)
    existing = my_open_request(actor, event)
    if existing is not None:
        return existing
    request_ = ListAccessRequest(event_id=event.id, requester_id=actor.id)
    db.session.add(request_)
    audit.record(actor, "attendees.request", TARGET_EVENT, event.public_id, hub=event.hub)
    db.session.flush()
    return request_


@atomic
def approve(actor, event: Event, request_id: str, now: datetime | None = None
            ) -> ListAccessRequest:
    """Agree, as a second organiser, to another's request. Audited once for the
    hub and once per attendee (what each reads on "Who looked at my RSVPs").
    Raises AttendeeError for one's own request, an expired or unknown one."""
    _require(actor, event)
    now = now or utcnow()
    request_ = None
    if is_public_id(request_id):
        request_ = db.session.scalar(select(ListAccessRequest).where(
            ListAccessRequest.public_id == request_id,
            ListAccessRequest.event_id == event.id,
            ListAccessRequest.approved_at.is_(None),
            ListAccessRequest.created_at > now - REQUEST_WINDOW))
    if request_ is None:
        raise AttendeeError(_("That request is no longer waiting."))
    if request_.requester_id == actor.id:
        raise AttendeeError(_("A second organiser must agree: you cannot approve your own "
                              "request."))
    request_.approver_id = actor.id
    request_.approved_at = now
    audit.record(actor, "attendees.approve", TARGET_EVENT, event.public_id, hub=event.hub,
                 detail=f"request={request_.public_id}")
    for answer in _answers(event, LIST_ORDER):
        if answer.user_id is not None:
            audit.record(actor, "attendees.approve", TARGET_EVENT, event.public_id,
                         hub=event.hub, subject_user=answer.user)
    db.session.flush()
    return request_
