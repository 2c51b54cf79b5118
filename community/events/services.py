"""Event rules: who sees an event and its location, RSVPs that never overbook,
the waiting list, and what people other than organisers see of attendance."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update

from community.auth.models import User
from community.database import escape_like, utcnow
from community.errors import DomainError
from community.events.models import Event, EventStatus, Rsvp, RsvpStatus, Tier
from community.extensions import db
from community.hubs.models import CountDisplay, Invite, Membership, MembershipStatus
from community.hubs.settings.services import claim_invite_use
from community.permissions import (
    HubAction,
    event_visible,
    hub_can,
    membership_of,
    travelling,
)
from community.transaction import atomic


class EventError(DomainError):
    """An RSVP rule refused the request; ``message`` is translated."""


class AlreadyAnswered(EventError):
    """The person has answered already: a repeated submission changes nothing."""


@dataclass
class Viewer:
    """Who is looking at an event, loaded once per request."""

    user: User | None
    membership: Membership | None
    rsvp: Rsvp | None
    organiser: bool

    @property
    def active_member(self) -> bool:
        return self.membership is not None and self.membership.status is MembershipStatus.ACTIVE

    @property
    def confirmed(self) -> bool:
        return self.rsvp is not None and self.rsvp.status is RsvpStatus.GOING


def event_by_public_id(public_id: str) -> Event | None:
    return db.session.scalar(select(Event).where(Event.public_id == public_id))


def viewer_for(event: Event, user) -> Viewer:
    membership = membership_of(user, event.hub)
    rsvp = None
    # Travel mode hides the member's own answers from their screens.
    if user is not None and user.is_authenticated and not travelling(user):
        rsvp = db.session.scalar(
            select(Rsvp).where(Rsvp.event_id == event.id, Rsvp.user_id == user.id))
    organiser = hub_can(user, HubAction.MANAGE_MEMBERS, event.hub, membership)
    return Viewer(user if user is not None and user.is_authenticated else None,
                  membership, rsvp, organiser)


# The invite-only event whose working invite link the current request is
# accepting: its person may see (and so answer) the event before they have an RSVP.
_accepting_invite_to: ContextVar[int | None] = ContextVar("accepting_invite_to", default=None)


@contextmanager
def accepting_invite(event: Event) -> Iterator[None]:
    """While a working invite link to ``event`` is being accepted, can_view lets
    its person in, so ``rsvp`` can record that they were invited."""
    reset = _accepting_invite_to.set(event.id)
    try:
        yield
    finally:
        _accepting_invite_to.reset(reset)


@atomic
def rsvp_by_invite(invite: Invite, event: Event, user: User) -> Rsvp | NewcomersAnswer:
    """Answer "going" through a working invite link, counting one use of it.

    Counted in one conditional UPDATE, so a link is never used past its limit;
    nothing is used up when the answer is refused (AlreadyAnswered included).
    Raises InviteUnavailable or EventError.
    """
    # A traveller's standing answer is not shown, nor a use of the link taken for it.
    if not (travelling(user) and _answer_of(event, user) is not None):
        claim_invite_use(invite)
    with accepting_invite(event):
        return rsvp(event, user)


def can_view(event: Event, viewer: Viewer) -> bool:
    """The rule is ``permissions.event_visible``; this adds the invite being accepted."""
    return event_visible(event, viewer, invited=_accepting_invite_to.get() == event.id)


def tier_allows(tier: Tier, event: Event, viewer: Viewer, now: datetime | None = None) -> bool:
    """Whether a location or link of this tier may be shown (DESIGN §2 rule 2, R3)."""
    if viewer.organiser:
        return True
    if event.location_reveal_at is not None and (now or utcnow()) < event.location_reveal_at:
        return False
    return tier_reaches(tier, viewer)


def tier_reaches(tier: Tier, viewer: Viewer) -> bool:
    """Whether this viewer is among the people a tier names, whatever the time."""
    if viewer.organiser or tier is Tier.PUBLIC:
        return True
    if tier is Tier.MEMBERS:
        return viewer.active_member or viewer.confirmed
    return viewer.confirmed


def seats_taken(event: Event) -> int:
    """People counted against capacity: confirmed attendees and their guests."""
    return db.session.scalar(
        select(func.coalesce(func.sum(1 + Rsvp.guests), 0))
        .where(Rsvp.event_id == event.id, Rsvp.status == RsvpStatus.GOING)
    ) or 0


def seats_left(event: Event) -> int | None:
    if event.capacity is None:
        return None
    return max(0, event.capacity - seats_taken(event))


def attendance_text(event: Event, viewer: Viewer) -> str | None:
    """What someone sees of attendance: exact, a range, or nothing (DESIGN §2 rule 1)."""
    taken = seats_taken(event)
    if viewer.organiser:
        return _("%(num)s going, including guests", num=taken)
    display = event.hub.attendee_count_display
    if event.hide_attendee_count or display is CountDisplay.HIDDEN:
        return None
    if display is CountDisplay.RANGE:
        if taken < 10:
            return _("Fewer than 10 going")
        if taken < 50:
            return _("10 to 49 going")
        return _("50 or more going")
    return _("%(num)s going", num=taken)


def lock_event(event: Event) -> None:
    """Serialise everything that counts an event's seats (RSVPs, withdrawals,
    confirmations, capacity changes): a row lock on PostgreSQL; on SQLite the
    request already holds the write lock (BEGIN IMMEDIATE) and this write keeps
    it for CLI callers too. Services call it before counting; routes never do."""
    db.session.execute(
        update(Event).where(Event.id == event.id).values(updated_at=Event.updated_at)
        .execution_options(synchronize_session=False))


@atomic
def rsvp(event: Event, user: User, *, guests: int = 0, note: str = "",
         now: datetime | None = None) -> Rsvp | NewcomersAnswer:
    """Answer "going" for ``user``: confirmed, pending approval or waitlisted.

    Capacity (guests included) is never exceeded, even under concurrent
    requests. Raises EventError when the answer cannot be taken.
    """
    now = now or utcnow()
    if not user.is_verified:
        raise EventError(_("Please confirm your email address before you RSVP."))
    if event.status is EventStatus.CANCELLED:
        raise EventError(_("This event is cancelled, so it is not taking RSVPs."))
    if event.status is not EventStatus.PUBLISHED:
        raise EventError(_("This event is not taking RSVPs."))
    if event.ends_at <= now:
        raise EventError(_("This event is over."))
    if event.rsvp_opens_at and now < event.rsvp_opens_at:
        raise EventError(_("RSVPs have not opened yet."))
    if event.rsvp_closes_at and now >= event.rsvp_closes_at:
        raise EventError(_("RSVPs are closed."))
    if guests < 0 or guests > event.max_guests:
        raise EventError(_("You can bring at most %(num)s guests.", num=event.max_guests),
                         field="guests")
    viewer = viewer_for(event, user)
    if not can_view(event, viewer):
        raise EventError(_("This event is not open to you."))
    lock_event(event)
    existing = db.session.scalar(
        select(Rsvp).where(Rsvp.event_id == event.id, Rsvp.user_id == user.id))
    if existing is not None and existing.status is not RsvpStatus.DECLINED:
        if travelling(user):
            # Travel mode: answered as a newcomer is, and nothing changes, so the
            # RSVP button cannot show which events they are going to (issue 16).
            return NewcomersAnswer(_newcomers_status(event, guests), event)
        # A double-clicked button or a resent form: keep the first answer as it is.
        raise AlreadyAnswered(_("You have already answered, so nothing has changed. "
                                "Withdraw first to change your answer."))
    if existing is not None:
        db.session.delete(existing)
        db.session.flush()
    status = _newcomers_status(event, guests)
    answer = Rsvp(event=event, user=user, status=status, guests=guests, note=note.strip()[:500])
    db.session.add(answer)
    db.session.flush()
    if status is RsvpStatus.GOING:
        _confirm_going(event, answer)
    return answer


@dataclass(frozen=True)
class NewcomersAnswer:
    """What a first answer would have become, for a traveller who has one already:
    shown, never stored."""

    status: RsvpStatus
    event: Event


def _answer_of(event: Event, user: User) -> Rsvp | None:
    """The user's standing answer (going, waiting, pending), not a decline."""
    return db.session.scalar(select(Rsvp).where(
        Rsvp.event_id == event.id, Rsvp.user_id == user.id,
        Rsvp.status != RsvpStatus.DECLINED))


def _newcomers_status(event: Event, guests: int) -> RsvpStatus:
    """The status a first answer gets now. Raises EventError when the event is full."""
    if event.rsvp_approval:
        return RsvpStatus.PENDING
    left = seats_left(event)
    queue = db.session.scalar(select(Rsvp.id).where(
        Rsvp.event_id == event.id, Rsvp.status == RsvpStatus.WAITLISTED).limit(1))
    # Nobody jumps the queue: while people wait, new answers wait behind them.
    if queue is None and (left is None or left >= 1 + guests):
        return RsvpStatus.GOING
    if event.waitlist_enabled:
        return RsvpStatus.WAITLISTED
    raise EventError(_("This event is full."))


def _confirm_going(event: Event, answer: Rsvp) -> None:
    """Queue the "you are going" email: title, time and a link only (R44)."""
    from community.mail import queue_templated_email
    from community.security import absolute_url

    person = answer.user
    if person is None:
        return
    queue_templated_email(
        to_address=person.email, locale=person.locale, template="rsvp_going",
        user_id=person.id, display_name=person.display_name, event=event,
        event_url=absolute_url("events.detail", public_id=event.public_id),
        dedupe_key=f"going:{answer.public_id}",
    )


def waitlist_position(answer: Rsvp) -> int | None:
    """1 for the first person on the waiting list, in the order promotion uses;
    None when the answer is not waitlisted."""
    if answer.status is not RsvpStatus.WAITLISTED:
        return None
    ahead = db.session.scalar(
        select(func.count()).select_from(Rsvp).where(
            Rsvp.event_id == answer.event_id, Rsvp.status == RsvpStatus.WAITLISTED,
            (Rsvp.created_at < answer.created_at)
            | ((Rsvp.created_at == answer.created_at) & (Rsvp.id < answer.id)))
    ) or 0
    return ahead + 1


@atomic
def withdraw(event: Event, user: User) -> list[Rsvp]:
    """Delete the user's RSVP (nothing is kept of a change of mind) and fill the
    freed seats from the waiting list. Returns the promoted RSVPs."""
    lock_event(event)
    # In travel mode they have answered nothing on their own screens (issue 16),
    # so there is nothing to withdraw, even by a forged form.
    found = not travelling(user) and db.session.execute(
        delete(Rsvp).where(Rsvp.event_id == event.id, Rsvp.user_id == user.id)
    ).rowcount
    if not found:
        raise EventError(_("You have not answered this event."))
    db.session.expire_all()
    return promote_waitlist(event)


def promote_waitlist(event: Event) -> list[Rsvp]:
    """Move waitlisted people, first come first served, into free seats and tell them.

    Stops at the first person (with guests) who does not fit, so nobody jumps
    the queue; a cancelled or finished event promotes nobody.
    """
    from community.mail import queue_templated_email
    from community.security import absolute_url

    lock_event(event)
    if event.status is not EventStatus.PUBLISHED or event.ends_at < utcnow():
        return []
    promoted = []
    waiting = db.session.scalars(
        select(Rsvp).where(Rsvp.event_id == event.id, Rsvp.status == RsvpStatus.WAITLISTED)
        .order_by(Rsvp.created_at, Rsvp.id)
    ).all()
    for candidate in waiting:
        left = seats_left(event)
        if left is not None and left < 1 + candidate.guests:
            break
        candidate.status = RsvpStatus.GOING
        db.session.flush()
        promoted.append(candidate)
        person = candidate.user
        if person is not None and person.notify_waitlist:
            # Title, date and a link only: never the address (R44).
            queue_templated_email(
                to_address=person.email, locale=person.locale, template="waitlist_promoted",
                user_id=person.id, display_name=person.display_name, event=event,
                event_url=absolute_url("events.detail", public_id=event.public_id),
                dedupe_key=f"waitlist:{candidate.public_id}",
            )
    return promoted


@dataclass
class Location:
    """What of an event's place a viewer may see."""

    venue: str = ""
    address: str = ""
    online_url: str = ""
    hidden: bool = False          # something exists that this viewer may not see yet
    reveal_at: datetime | None = None
    # The narrowest tier of what is hidden that this viewer is not in (they will
    # not see it on reveal_at either); None when time alone hides it.
    shared_with: Tier | None = None

    @property
    def calendar_text(self) -> str | None:
        return ", ".join(p for p in (self.venue, self.address) if p) or None


def location_for(event: Event, viewer: Viewer, now: datetime | None = None) -> Location:
    """The venue, address and online link this viewer may see (R3)."""
    place = Location()
    has_place = bool(event.venue or event.address)
    out_of_reach: list[Tier] = []
    if has_place:
        if tier_allows(event.location_visibility, event, viewer, now):
            place.venue, place.address = event.venue, event.address
        else:
            place.hidden = True
            if not tier_reaches(event.location_visibility, viewer):
                out_of_reach.append(event.location_visibility)
    if event.online_url:
        if tier_allows(event.online_visibility, event, viewer, now):
            place.online_url = event.online_url
        else:
            place.hidden = True
            if not tier_reaches(event.online_visibility, viewer):
                out_of_reach.append(event.online_visibility)
    if out_of_reach:
        place.shared_with = Tier.ATTENDEES if Tier.ATTENDEES in out_of_reach else Tier.MEMBERS
    if place.hidden and event.location_reveal_at and (now or utcnow()) < event.location_reveal_at:
        place.reveal_at = event.location_reveal_at
    return place


def speaks(language: str):
    """SQL: ``language`` is one of the event's space-separated tags. Written on the
    column itself (not on " " || languages || " ") so PostgreSQL estimates it from
    the column's statistics and keeps reading the listing index in order."""
    from sqlalchemy import or_

    tag = escape_like(language)
    return or_(Event.languages == language,
               Event.languages.like(f"{tag} %", escape="\\"),
               Event.languages.like(f"% {tag}", escape="\\"),
               Event.languages.like(f"% {tag} %", escape="\\"))


def public_listing(*, query: str = "", chapter_code: str = "", hub_slug: str = "",
                   date_from=None, date_to=None, language: str = "", mode: str = "",
                   page: int = 1, after: str = "", per_page: int = 20):
    """Upcoming public events of listed hubs with the list page's filters, soonest first.

    Reads ix_events_listing (status, audience, start time…) from the first
    upcoming event on: the count stops at COUNT_CAP and pages
    past it go on by keyset after the event ``after`` (a public id), so page 500
    costs what page 1 does. Bad filter values simply match nothing.
    """
    from sqlalchemy import or_, tuple_
    from sqlalchemy.orm import contains_eager

    from community.events.models import EventMode, upcoming_clause
    from community.hubs.models import Chapter, Hub
    from community.pagination import paginate_capped
    from community.permissions import public_event_clause

    stmt = (
        select(Event).join(Event.hub).join(Hub.chapter)
        .where(public_event_clause(), upcoming_clause(date_from or utcnow()))
    )
    if date_to is not None:
        stmt = stmt.where(Event.starts_at < date_to)
    if chapter_code:
        stmt = stmt.where(Chapter.code == chapter_code)
    if hub_slug:
        stmt = stmt.where(Hub.slug == hub_slug)
    if language:
        stmt = stmt.where(speaks(language))
    if mode in {m.value for m in EventMode}:
        stmt = stmt.where(Event.mode == EventMode(mode))
    query = query.strip()[:100]
    if query:
        pattern = f"%{escape_like(query.casefold())}%"
        stmt = stmt.where(or_(func.lower(Event.title_en).like(pattern, escape="\\"),
                              func.lower(Event.title_zh).like(pattern, escape="\\")))
    anchor = None
    if after and len(after) <= 32 and "\x00" not in after:
        # Only an event of this very list: another's place in it would tell
        # when an event the reader may not see starts.
        anchor = db.session.execute(
            stmt.with_only_columns(Event.starts_at, Event.id)
            .where(Event.public_id == after)).first()
    # In the listing's order, so both databases count along ix_events_listing too.
    count = stmt.with_only_columns(Event.id).order_by(Event.starts_at, Event.id)
    if anchor is not None:
        stmt = stmt.where(tuple_(Event.starts_at, Event.id) > tuple_(*anchor))
    return paginate_capped(
        stmt.options(contains_eager(Event.hub).contains_eager(Hub.chapter))
        .order_by(Event.starts_at, Event.id),
        count=count, page=page, per_page=per_page, keyed=anchor is not None,
        cursor=lambda event: event.public_id)
