"""Organiser rules for a hub's events: create, edit, publish, cancel and
duplicate, the organiser's list, and the wall-clock to UTC conversion they
rely on.

Organisers enter times as wall-clock times in the event's IANA time zone;
they are stored in UTC with the zone, so they stay right across daylight
saving. Each change checks the actor's right to manage the hub again,
writes one audit entry in the caller's transaction (DESIGN §2 rule 8) and
flushes; the route commits. Refusals raise EventManageError with a
translated message for the form; NotAllowed means the route answers 404.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from community import audit, notifications
from community.database import is_public_id, utcnow
from community.errors import DomainError
from community.events import series
from community.events.manage import limits
from community.events.models import Audience, Event, EventMode, EventStatus, Rsvp, Tier
from community.events.services import lock_event, promote_waitlist, seats_taken
from community.extensions import db
from community.hubs.models import Hub
from community.i18n import valid_timezone
from community.mail import InvalidRecipient, queue_templated_email
from community.pagination import Page, paginate
from community.permissions import HubAction, hub_can
from community.security import absolute_url
from community.transaction import atomic
from community.validators import is_https_url

EVENTS_PER_PAGE = 20
DUPLICATE_AFTER = timedelta(days=7)
TARGET_TYPE = "event"
# The organiser's list, one tab each.
VIEWS = ("upcoming", "drafts", "past", "cancelled")


class EventManageError(DomainError):
    """An organiser rule refused the request. ``message`` is translated;
    ``field`` names the form field it concerns, if any."""


class NonexistentLocalTime(EventManageError):
    """The wall-clock time falls in a gap the clocks skip (spring forward)."""


class NotAllowed(Exception):
    """The actor may not manage the hub's events; the route answers 404 (R8)."""


# --- time -------------------------------------------------------------------------


def local_to_utc(day: date, at: time, zone: str, *, field: str | None = None) -> datetime:
    """The UTC instant that the wall-clock time ``day`` ``at`` in IANA ``zone`` means.

    A time the clocks skip when they go forward does not exist there: raises
    NonexistentLocalTime (for ``field``), whose message suggests the time
    after the change. A time that happens twice when the clocks go back is
    ambiguous: the first of the two (fold=0, still on the earlier offset,
    usually summer time) is taken. Seconds are kept; ``at``'s own tzinfo
    and fold are ignored.
    """
    tz = ZoneInfo(zone)
    wall = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    # PEP 495: a skipped time maps through the offset before the gap, so the
    # round trip lands on a different wall-clock time.
    back = instant.astimezone(tz).replace(tzinfo=None)
    if back != wall:
        raise NonexistentLocalTime(
            _("%(time)s on %(date)s does not exist in %(zone)s: the clocks go forward then. "
              "Choose another time, such as %(suggestion)s.",
              time=wall.strftime("%H:%M"), date=wall.date().isoformat(), zone=zone,
              suggestion=back.strftime("%H:%M")),
            field=field,
        )
    return instant


def is_ambiguous(day: date, at: time, zone: str) -> bool:
    """Whether the wall-clock time happens twice in ``zone`` (the clocks go back)."""
    tz = ZoneInfo(zone)
    wall = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return False
    # Offsets differ in a gap too; only a time that exists is ambiguous.
    return first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


def utc_to_local(value: datetime, zone: str) -> datetime:
    """An aware UTC instant as a naive wall-clock time in ``zone``."""
    return value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def shift_wall_clock(value: datetime, zone: str, delta: timedelta) -> datetime:
    """``value`` moved by ``delta`` of wall-clock time in ``zone`` (the same local
    time a week later, across a clock change). A result in a gap moves
    forward past it; an ambiguous one takes the first."""
    wall = utc_to_local(value, zone) + delta
    return wall.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)


# --- reading ----------------------------------------------------------------------


def may_manage(user, hub: Hub) -> bool:
    """Organisers, leads, the chapter's coordinators and site admins."""
    return hub_can(user, HubAction.MANAGE_MEMBERS, hub)


def _require_organiser(actor, hub: Hub) -> None:
    if not may_manage(actor, hub):
        raise NotAllowed


def event_for_organiser(public_id: str, user) -> Event | None:
    """The event with this id if ``user`` may manage its hub; None otherwise,
    so another hub's event looks exactly like a missing one (R8, R9)."""
    if not is_public_id(public_id):
        return None
    event = db.session.scalar(
        select(Event).options(joinedload(Event.hub)).where(Event.public_id == public_id))
    if event is None or not may_manage(user, event.hub):
        return None
    return event


def _view_clause(hub: Hub, view: str, now: datetime):
    where = [Event.hub_id == hub.id]
    if view == "drafts":
        where.append(Event.status == EventStatus.DRAFT)
    elif view == "cancelled":
        where.append(Event.status == EventStatus.CANCELLED)
    elif view == "past":
        where += [Event.status == EventStatus.PUBLISHED, Event.ends_at < now]
    else:
        where += [Event.status == EventStatus.PUBLISHED, Event.ends_at >= now]
    return where


def view_counts(hub: Hub, now: datetime | None = None) -> dict[str, int]:
    """How many of the hub's events each tab of the organiser's list holds."""
    now = now or utcnow()
    return {
        view: db.session.scalar(
            select(func.count()).select_from(Event).where(*_view_clause(hub, view, now))) or 0
        for view in VIEWS
    }


def organiser_events(hub: Hub, view: str = "upcoming", page: int = 1,
                     per_page: int = EVENTS_PER_PAGE, now: datetime | None = None) -> Page:
    """One tab of the hub's events for its organisers: upcoming and drafts
    soonest first, past and cancelled most recent first. An unknown ``view``
    is "upcoming"."""
    now = now or utcnow()
    view = view if view in VIEWS else "upcoming"
    where = _view_clause(hub, view, now)
    order = ((Event.starts_at, Event.id) if view in ("upcoming", "drafts")
             else (Event.starts_at.desc(), Event.id.desc()))
    return paginate(select(Event).where(*where).order_by(*order),
                    count=select(func.count()).select_from(Event).where(*where),
                    page=page, per_page=per_page)


# --- what an organiser enters -----------------------------------------------------


@dataclass
class EventDetails:
    """An event as an organiser enters it: times are wall-clock times in
    ``timezone``; ``reveal_hours`` is how long before the start the place is
    shared (None: at once)."""

    title_en: str = ""
    title_zh: str = ""
    description_en: str = ""
    description_zh: str = ""
    timezone: str = "UTC"
    start_date: date | None = None
    start_time: time | None = None
    end_date: date | None = None
    end_time: time | None = None
    mode: EventMode = EventMode.IN_PERSON
    venue: str = ""
    address: str = ""
    location_visibility: Tier = Tier.PUBLIC
    online_url: str = ""
    online_visibility: Tier = Tier.ATTENDEES
    reveal_hours: int | None = None
    audience: Audience = Audience.PUBLIC
    capacity: int | None = None
    max_guests: int = 0
    waitlist_enabled: bool = True
    rsvp_approval: bool = False
    hide_attendee_count: bool = False
    # Burn after the event (community.events.burn): on by default under the
    # high-risk preset.
    burn_after: bool = False
    rsvp_opens_date: date | None = None
    rsvp_opens_time: time | None = None
    rsvp_closes_date: date | None = None
    rsvp_closes_time: time | None = None
    languages: list[str] = field(default_factory=list)


def new_event_details(hub: Hub) -> EventDetails:
    """What a new event of ``hub`` starts with: the hub's zone and its approval
    setting, and with the high-risk preset the safe choices (DESIGN §2 rule 1):
    place and link for confirmed attendees only, approval, counts hidden."""
    details = EventDetails(timezone=hub.timezone,
                           rsvp_approval=hub.rsvp_approval_default or hub.high_risk)
    if hub.high_risk:
        details.location_visibility = Tier.ATTENDEES
        details.online_visibility = Tier.ATTENDEES
        details.hide_attendee_count = True
        details.burn_after = True
    return details


def _whole_hours(span: timedelta) -> int:
    return max(0, min(limits.REVEAL_HOURS_MAX, round(span.total_seconds() / 3600)))


def details_of(event: Event) -> EventDetails:
    """An event's stored values as the organiser entered them, for the edit form."""
    zone = event.timezone

    def wall(value: datetime | None) -> tuple[date | None, time | None]:
        if value is None:
            return None, None
        local = utc_to_local(value, zone)
        return local.date(), local.time().replace(second=0, microsecond=0)

    start_date, start_time = wall(event.starts_at)
    end_date, end_time = wall(event.ends_at)
    opens_date, opens_time = wall(event.rsvp_opens_at)
    closes_date, closes_time = wall(event.rsvp_closes_at)
    reveal = (None if event.location_reveal_at is None
              else _whole_hours(event.starts_at - event.location_reveal_at))
    return EventDetails(
        title_en=event.title_en, title_zh=event.title_zh,
        description_en=event.description_en, description_zh=event.description_zh,
        timezone=zone, start_date=start_date, start_time=start_time,
        end_date=end_date, end_time=end_time, mode=event.mode, venue=event.venue,
        address=event.address, location_visibility=event.location_visibility,
        online_url=event.online_url, online_visibility=event.online_visibility,
        reveal_hours=reveal, audience=event.audience, capacity=event.capacity,
        max_guests=event.max_guests, waitlist_enabled=event.waitlist_enabled,
        rsvp_approval=event.rsvp_approval, hide_attendee_count=event.hide_attendee_count,
        burn_after=event.burn_after, rsvp_opens_date=opens_date, rsvp_opens_time=opens_time,
        rsvp_closes_date=closes_date, rsvp_closes_time=closes_time,
        languages=event.language_tags,
    )


def _time_fields(prefix: str) -> tuple[str, str]:
    return f"{prefix}_date", f"{prefix}_time"


def _instant(details: EventDetails, prefix: str, current: Event | None,
             column: str, *, required: bool) -> datetime | None:
    """One of the details' wall-clock times in UTC. When it is the wall-clock
    time the event already has, in the same zone, the stored instant is kept,
    so saving other changes never moves a time by its seconds or its fold."""
    date_field, time_field = _time_fields(prefix)
    day, at = getattr(details, date_field), getattr(details, time_field)
    if day is None and at is None and not required:
        return None
    if day is None:
        raise EventManageError(_("Enter the date as well as the time."), field=date_field)
    if at is None:
        raise EventManageError(_("Enter the time as well as the date."), field=time_field)
    if not limits.YEAR_MIN <= day.year <= limits.YEAR_MAX:
        raise EventManageError(_("Enter a date from the year %(min)s to %(max)s.",
                                 min=limits.YEAR_MIN, max=limits.YEAR_MAX), field=date_field)
    stored = getattr(current, column) if current is not None else None
    if stored is not None and current.timezone == details.timezone:
        local = utc_to_local(stored, details.timezone)
        if (local.date(), local.time().replace(second=0, microsecond=0)) == (
                day, at.replace(second=0, microsecond=0, tzinfo=None)):
            return stored
    return local_to_utc(day, at, details.timezone, field=time_field)


def _values(details: EventDetails, current: Event | None = None) -> dict:
    """The column values ``details`` mean, checked. Raises EventManageError
    for the first problem found, naming its field."""
    title_en, title_zh = details.title_en.strip(), details.title_zh.strip()
    if not (title_en or title_zh):
        raise EventManageError(_("Give the event a title in English, in Chinese or in both."),
                               field="title_en")
    for name, value, limit in (
            ("title_en", title_en, limits.TITLE_MAX), ("title_zh", title_zh, limits.TITLE_MAX),
            ("description_en", details.description_en, limits.DESCRIPTION_MAX),
            ("description_zh", details.description_zh, limits.DESCRIPTION_MAX),
            ("venue", details.venue, limits.VENUE_MAX),
            ("address", details.address, limits.ADDRESS_MAX),
            ("online_url", details.online_url, limits.ONLINE_URL_MAX)):
        if len(value) > limit:
            raise EventManageError(_("Use at most %(max)d characters.", max=limit), field=name)
        if "\x00" in value:
            raise EventManageError(_("Remove the invisible control characters from this "
                                     "text."), field=name)
    if current is not None and current.burned_at is not None and not details.burn_after:
        raise EventManageError(_("The answers to this event have already been deleted; "
                                 "they cannot be kept now."), field="burn_after")
    if details.online_url and not is_https_url(details.online_url):
        raise EventManageError(_("Enter a link that starts with https://, such as "
                                 "https://meet.example.org/our-meeting."), field="online_url")
    if valid_timezone(details.timezone) is None:
        raise EventManageError(_("We do not know that time zone. Choose one from the list, "
                                 "such as Europe/London or Asia/Hong_Kong."), field="timezone")
    if details.capacity is not None and not 0 <= details.capacity <= limits.CAPACITY_MAX:
        raise EventManageError(_("Enter a number from %(min)s to %(max)s, or leave it empty "
                                 "for no limit.", min=0, max=limits.CAPACITY_MAX),
                               field="capacity")
    if not 0 <= details.max_guests <= limits.MAX_GUESTS_MAX:
        raise EventManageError(_("Enter a number from 0 to 20."), field="max_guests")
    if details.reveal_hours is not None and not (
            0 <= details.reveal_hours <= limits.REVEAL_HOURS_MAX):
        raise EventManageError(_("Enter a number of hours from %(min)s to %(max)s, or leave "
                                 "it empty to share the place at once.",
                                 min=0, max=limits.REVEAL_HOURS_MAX), field="reveal_hours")
    languages = " ".join(details.languages)
    if len(languages) > limits.LANGUAGES_MAX or not all(
            limits.LANGUAGE_TAG.match(tag) for tag in details.languages):
        raise EventManageError(_("Name fewer languages."), field="other_languages")

    starts_at = _instant(details, "start", current, "starts_at", required=True)
    ends_at = _instant(details, "end", current, "ends_at", required=True)
    if ends_at <= starts_at:
        raise EventManageError(_("The event must end after it starts."), field="end_date")
    if current is None and starts_at <= utcnow():
        # Only new events: an event that has begun or ended may still be corrected.
        raise EventManageError(_("That start time has passed. Choose a date and time "
                                 "still to come."), field="start_date")
    opens_at = _instant(details, "rsvp_opens", current, "rsvp_opens_at", required=False)
    closes_at = _instant(details, "rsvp_closes", current, "rsvp_closes_at", required=False)
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        raise EventManageError(_("RSVPs must close after they open."),
                               field="rsvp_closes_date")

    reveal_at = None
    if details.reveal_hours is not None:
        reveal_at = starts_at - timedelta(hours=details.reveal_hours)
        stored = current.location_reveal_at if current is not None else None
        # Keep a stored reveal time the form shows rounded, unless the start moved.
        if (stored is not None and starts_at == current.starts_at
                and _whole_hours(current.starts_at - stored) == details.reveal_hours):
            reveal_at = stored

    return {
        "title_en": title_en, "title_zh": title_zh,
        "description_en": details.description_en, "description_zh": details.description_zh,
        "timezone": details.timezone, "starts_at": starts_at, "ends_at": ends_at,
        "mode": details.mode, "venue": details.venue, "address": details.address,
        "location_visibility": details.location_visibility,
        "online_url": details.online_url, "online_visibility": details.online_visibility,
        "location_reveal_at": reveal_at, "audience": details.audience,
        "capacity": details.capacity, "max_guests": details.max_guests,
        "waitlist_enabled": details.waitlist_enabled, "rsvp_approval": details.rsvp_approval,
        "hide_attendee_count": details.hide_attendee_count,
        "burn_after": details.burn_after,
        "rsvp_opens_at": opens_at, "rsvp_closes_at": closes_at, "languages": languages,
    }


def ambiguity_notes(details: EventDetails) -> list[str]:
    """A note for each entered time that happens twice (the clocks go back),
    saying that the first of the two was taken."""
    notes = []
    for prefix in ("start", "end", "rsvp_opens", "rsvp_closes"):
        date_field, time_field = _time_fields(prefix)
        day, at = getattr(details, date_field), getattr(details, time_field)
        if day is not None and at is not None and valid_timezone(details.timezone) and \
                is_ambiguous(day, at, details.timezone):
            notes.append(_("%(time)s on %(date)s happens twice in %(zone)s, as the clocks go "
                           "back. We took the first, before the change.",
                           time=at.strftime("%H:%M"), date=day.isoformat(),
                           zone=details.timezone))
    return notes


# --- changes ----------------------------------------------------------------------


@atomic
def create_event(hub: Hub, actor, details: EventDetails) -> Event:
    """A new draft event of ``hub`` made from ``details``, with its audit entry.
    Raises NotAllowed, or EventManageError for details that cannot be saved."""
    _require_organiser(actor, hub)
    event = Event(hub=hub, status=EventStatus.DRAFT, created_by_id=actor.id,
                  **_values(details))
    db.session.add(event)
    db.session.flush()
    audit.record(actor, "event.create", TARGET_TYPE, event.public_id, hub=hub)
    db.session.flush()
    return event


@atomic
def update_event(event: Event, actor, details: EventDetails) -> list[str]:
    """Save ``details`` to ``event`` and return the names of the columns that
    changed (none: nothing is written). Capacity never drops below the places
    already taken; more room moves people up from the waiting list.
    Raises NotAllowed, or EventManageError (a cancelled event stays as it is)."""
    _require_organiser(actor, event.hub)
    if event.status is EventStatus.CANCELLED:
        raise EventManageError(_("A cancelled event cannot be changed. Duplicate it to plan "
                                 "it again."))
    values = _values(details, current=event)
    changed = [name for name, value in values.items() if getattr(event, name) != value]
    if not changed:
        return []
    if "capacity" in changed and values["capacity"] is not None:
        lock_event(event)
        taken = seats_taken(event)
        if values["capacity"] < taken:
            raise EventManageError(
                _("%(num)s places are already taken, guests included. Enter at least "
                  "%(num)s, or leave it empty for no limit.", num=taken), field="capacity")
    for name in changed:
        setattr(event, name, values[name])
    db.session.flush()
    audit.record(actor, "event.edit", TARGET_TYPE, event.public_id, hub=event.hub,
                 detail="changed: " + ", ".join(changed))
    db.session.flush()
    if event.status is EventStatus.PUBLISHED and (
            "capacity" in changed or "waitlist_enabled" in changed):
        promote_waitlist(event)
    return changed


@atomic
def publish_event(event: Event, actor, now: datetime | None = None) -> None:
    """Make a draft visible to its audience from ``now``. Raises NotAllowed, or
    EventManageError for an event that is not a draft or is already over."""
    _require_organiser(actor, event.hub)
    now = now or utcnow()
    if event.status is EventStatus.PUBLISHED:
        raise EventManageError(_("This event is already published."))
    if event.status is EventStatus.CANCELLED:
        raise EventManageError(_("A cancelled event cannot be published. Duplicate it to "
                                 "plan it again."))
    if event.ends_at <= now:
        raise EventManageError(_("This event is over. Change its dates before you publish "
                                 "it."))
    event.status = EventStatus.PUBLISHED
    event.published_at = now
    db.session.flush()
    audit.record(actor, "event.publish", TARGET_TYPE, event.public_id, hub=event.hub)
    notifications.announce("event", event.id)
    db.session.flush()


@atomic
def cancel_event(event: Event, actor, message: str) -> int:
    """Cancel a published event with ``message`` for its page, and email every
    person who answered it (any answer) once, in their own language, with the
    title, date and a link only — never the place (R44). Returns how many
    emails were queued. Raises NotAllowed, or EventManageError for a draft
    (cancelling would make it visible), a cancelled event or a bad message."""
    _require_organiser(actor, event.hub)
    message = (message or "").strip()
    if event.status is EventStatus.DRAFT:
        raise EventManageError(_("This event is a draft: nobody but the organisers can see "
                                 "it, so there is nothing to cancel."))
    if event.status is EventStatus.CANCELLED:
        raise EventManageError(_("This event is already cancelled."))
    if not message:
        raise EventManageError(_("Write a short message saying why the event is cancelled."),
                               field="message")
    if len(message) > limits.CANCEL_MESSAGE_MAX or "\x00" in message:
        raise EventManageError(_("Use at most %(max)d characters.",
                                 max=limits.CANCEL_MESSAGE_MAX), field="message")
    lock_event(event)
    event.status = EventStatus.CANCELLED
    event.cancel_message = message
    db.session.flush()
    audit.record(actor, "event.cancel", TARGET_TYPE, event.public_id, hub=event.hub)
    event_url = absolute_url("events.detail", public_id=event.public_id)
    answers = db.session.scalars(
        select(Rsvp).options(joinedload(Rsvp.user))
        .where(Rsvp.event_id == event.id, Rsvp.user_id.is_not(None))
        .order_by(Rsvp.created_at, Rsvp.id))
    queued = 0
    for answer in answers:
        person = answer.user
        try:
            email = queue_templated_email(
                to_address=person.email, locale=person.locale, template="event_cancelled",
                user_id=person.id, display_name=person.display_name, event=event,
                event_url=event_url, dedupe_key=f"cancel:{event.public_id}:{person.public_id}",
            )
        except InvalidRecipient:
            # An address that can never be delivered must not keep the others
            # from hearing that the event is off.
            continue
        queued += email is not None
    db.session.flush()
    return queued


@atomic
def duplicate_event(event: Event, actor) -> Event:
    """A new draft copying ``event`` one week later, at the same wall-clock
    times in its zone (so across a clock change too). Answers, status and
    the cancel message are not copied. Raises NotAllowed."""
    _require_organiser(actor, event.hub)
    zone = event.timezone

    def later(value: datetime | None) -> datetime | None:
        return None if value is None else shift_wall_clock(value, zone, DUPLICATE_AFTER)

    starts_at = later(event.starts_at)
    reveal_at = (None if event.location_reveal_at is None
                 else starts_at - (event.starts_at - event.location_reveal_at))
    copy = Event(
        hub=event.hub, status=EventStatus.DRAFT, created_by_id=actor.id,
        title_en=event.title_en, title_zh=event.title_zh,
        description_en=event.description_en, description_zh=event.description_zh,
        timezone=zone, starts_at=starts_at, ends_at=max(later(event.ends_at), starts_at),
        mode=event.mode, venue=event.venue, address=event.address,
        location_visibility=event.location_visibility, online_url=event.online_url,
        online_visibility=event.online_visibility, location_reveal_at=reveal_at,
        audience=event.audience, capacity=event.capacity, max_guests=event.max_guests,
        waitlist_enabled=event.waitlist_enabled, rsvp_approval=event.rsvp_approval,
        rsvp_opens_at=later(event.rsvp_opens_at), rsvp_closes_at=later(event.rsvp_closes_at),
        hide_attendee_count=event.hide_attendee_count, burn_after=event.burn_after,
        languages=event.languages,
    )
    db.session.add(copy)
    db.session.flush()
    audit.record(actor, "event.create", TARGET_TYPE, copy.public_id, hub=event.hub,
                 detail=f"copy of {event.public_id}")
    db.session.flush()
    return copy


# --- series -----------------------------------------------------------------------


@dataclass
class SeriesResult:
    """The events a series operation made or changed, soonest first, and the
    local dates it had to leave out because a time falls in a clock change's gap."""

    events: list[Event]
    skipped: list[date]


def _moved(details: EventDetails, days: timedelta) -> EventDetails:
    """``details`` with every date ``days`` later, the wall-clock times kept."""
    moved = replace(details)
    for prefix in ("start", "end", "rsvp_opens", "rsvp_closes"):
        name = f"{prefix}_date"
        if getattr(moved, name) is not None:
            setattr(moved, name, getattr(moved, name) + days)
    return moved


def create_series(hub: Hub, actor, details: EventDetails, repeat: series.Repeat) -> SeriesResult:
    """Draft events of ``hub`` from ``details``, one for each occurrence of
    ``repeat``, sharing a new series id and the RRULE text, each audited as
    created. Occurrences are computed on wall-clock times in the event's zone,
    so the clock time holds across daylight saving; one whose times fall in
    a gap the clocks skip is left out and reported. Raises NotAllowed, or
    EventManageError for details or a repeat setting that cannot be saved
    (including a first event in such a gap)."""
    _require_organiser(actor, hub)
    if details.start_date is None or details.start_time is None:
        raise EventManageError(_("Enter the date the event starts."), field="start_date")
    first = datetime.combine(details.start_date, details.start_time.replace(tzinfo=None))
    try:
        starts = series.occurrences(first, repeat)
        rule = series.rule_text(first, repeat)
    except series.RecurrenceError as error:
        raise EventManageError(error.message, field=error.field) from error
    series_id = secrets.token_urlsafe(16)
    made: list[Event] = []
    skipped: list[date] = []
    for start in starts:
        try:
            values = _values(_moved(details, start.date() - first.date()))
        except NonexistentLocalTime:
            if start == first:
                raise
            skipped.append(start.date())
            continue
        event = Event(hub=hub, status=EventStatus.DRAFT, created_by_id=actor.id,
                      series_id=series_id, recurrence_rule=rule, **values)
        db.session.add(event)
        db.session.flush()
        audit.record(actor, "event.create", TARGET_TYPE, event.public_id, hub=hub,
                     detail=f"series {series_id}")
        made.append(event)
    db.session.flush()
    return SeriesResult(made, skipped)


def following_occurrences(event: Event) -> list[Event]:
    """The later occurrences of ``event``'s series that are not cancelled,
    soonest first; none for an event outside a series."""
    if not event.series_id:
        return []
    return list(db.session.scalars(
        select(Event).where(Event.series_id == event.series_id, Event.hub_id == event.hub_id,
                            Event.id != event.id, Event.starts_at > event.starts_at,
                            Event.status != EventStatus.CANCELLED)
        .order_by(Event.starts_at, Event.id)))


def _carry_over(before: EventDetails, after: EventDetails, other: EventDetails) -> EventDetails:
    """``other`` with the changes from ``before`` to ``after`` applied. Its own
    dates stay; a changed time of day moves its wall-clock time; how many days
    the end and the RSVP window lie from the start follows ``after``."""
    result = replace(other)
    day_fields = {"start_date", "end_date", "rsvp_opens_date", "rsvp_closes_date"}
    for name in fields(EventDetails):
        if name.name in day_fields:
            continue
        if getattr(before, name.name) != getattr(after, name.name):
            setattr(result, name.name, getattr(after, name.name))
    for prefix in ("end", "rsvp_opens", "rsvp_closes"):
        name = f"{prefix}_date"
        old, new = getattr(before, name), getattr(after, name)
        if old == new and before.start_date == after.start_date:
            continue
        if new is None or after.start_date is None or other.start_date is None:
            setattr(result, name, new if new is None else getattr(other, name))
        else:
            setattr(result, name, other.start_date + (new - after.start_date))
    return result


@atomic
def update_following(event: Event, actor, details: EventDetails) -> tuple[list[str], SeriesResult]:
    """Save ``details`` to ``event`` (as update_event) and carry the same
    changes to each later occurrence of its series that is not cancelled,
    each audited once. Returns the names of the columns changed on ``event``
    and the other occurrences changed; one whose new time falls in a
    clock change's gap is left as it was and reported. Raises as update_event."""
    before = details_of(event)
    changed = update_event(event, actor, details)
    touched: list[Event] = []
    skipped: list[date] = []
    for other in following_occurrences(event):
        wanted = _carry_over(before, details, details_of(other))
        try:
            if update_event(other, actor, wanted):
                touched.append(other)
        except NonexistentLocalTime:
            skipped.append(utc_to_local(other.starts_at, other.timezone).date())
    return changed, SeriesResult(touched, skipped)


@atomic
def cancel_following(event: Event, actor, message: str) -> tuple[int, int]:
    """Cancel ``event`` and each later published occurrence of its series
    through cancel_event (so each one's answers are emailed and audited).
    Later drafts stay drafts: cancelling would make them visible. Returns
    (events cancelled, emails queued). Raises as cancel_event for ``event``."""
    queued = cancel_event(event, actor, message)
    cancelled = 1
    for other in following_occurrences(event):
        if other.status is EventStatus.PUBLISHED:
            queued += cancel_event(other, actor, message)
            cancelled += 1
    return cancelled, queued


def publish_following(event: Event, actor, now: datetime | None = None) -> int:
    """Publish ``event`` and each later draft of its series together, through
    publish_event. Returns how many were published. Raises as publish_event
    for ``event``."""
    now = now or utcnow()
    publish_event(event, actor, now)
    published = 1
    for other in following_occurrences(event):
        if other.status is EventStatus.DRAFT and other.ends_at > now:
            publish_event(other, actor, now)
            published += 1
    return published


def series_positions(events: list[Event]) -> dict[int, tuple[int, int]]:
    """For each of ``events`` in a series, its place in the series by start
    and the series' size, cancelled occurrences included, in one query."""
    ids = {event.series_id for event in events if event.series_id}
    if not ids:
        return {}
    rows = db.session.execute(
        select(Event.id, Event.series_id).where(Event.series_id.in_(ids))
        .order_by(Event.series_id, Event.starts_at, Event.id))
    members: dict[str, list[int]] = {}
    for event_id, series_id in rows:
        members.setdefault(series_id, []).append(event_id)
    positions = {}
    for event in events:
        if event.series_id in members and event.id in members[event.series_id]:
            siblings = members[event.series_id]
            positions[event.id] = (siblings.index(event.id) + 1, len(siblings))
    return positions
