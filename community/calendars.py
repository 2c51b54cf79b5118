"""iCalendar files. Every time carries its time zone; a location appears only
for those allowed to see it (R3)."""

from __future__ import annotations

from collections import OrderedDict
from zoneinfo import ZoneInfo

from icalendar import Calendar, Timezone
from icalendar import Event as CalendarEvent

from community.events.models import EventStatus
from community.i18n import localized
from community.security import absolute_url


def new_calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//Harbour//Community events//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    return calendar


class CalendarFile:
    """An iCalendar file of events, joined from pieces each serialised once.

    icalendar folds every line character by character (about 0.3 ms an event),
    so a calendar of 500 events took 170 ms to build each time its cached copy
    was retired — at every edit anywhere on the site. A VEVENT's bytes are a
    pure function of what goes into it (all of it is the key of
    ``_EVENT_MEMO``), a VTIMEZONE's of its zone, so each worker keeps both and
    joins a calendar from them: the bytes icalendar writes, with the VTIMEZONEs
    first in a fixed order (icalendar's follows a set of names, whose order
    changes from one process to the next — after a restart, or on another app
    server — and with it the calendar's ETag).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.blocks: list[bytes] = []
        self.zones: set[str] = set()

    def add(self, event, *, location: str | None, online_url: str | None = None,
            summary: str | None = None) -> None:
        self.blocks.append(event_block(event, location=location, online_url=online_url,
                                       summary=summary))
        self.zones.add(event.timezone)

    def to_bytes(self) -> bytes:
        head = new_calendar(self.name).to_ical()
        end = b"END:VCALENDAR\r\n"
        zones = [zone_block(name) for name in sorted(self.zones - {"UTC"})]
        return b"".join([head[:-len(end)], *zones, *self.blocks, end])


# Per worker, a few MB at most: 5,000 VEVENTs of about 400 bytes.
EVENT_MEMO_SIZE = 5000
_EVENT_MEMO: OrderedDict[tuple, bytes] = OrderedDict()
_ZONE_MEMO: dict[str, bytes] = {}


def event_block(event, *, location: str | None, online_url: str | None = None,
                summary: str | None = None) -> bytes:
    """One VEVENT, serialised; everything it is made of is in the memo's key."""
    from flask import current_app, has_request_context, request

    summary = summary if summary is not None else localized(event, "title").text
    # The links: BASE_URL and, inside a request, the path the app is mounted at.
    root = request.script_root if has_request_context() else ""
    key = (event.public_id, summary, event.starts_at, event.ends_at, event.timezone,
           event.created_at, event.updated_at, event.status, location, online_url,
           current_app.config["BASE_URL"], root)
    block = _EVENT_MEMO.get(key)
    if block is None:
        block = _entry(event, summary=summary, location=location,
                       online_url=online_url).to_ical()
        _EVENT_MEMO[key] = block
        if len(_EVENT_MEMO) > EVENT_MEMO_SIZE:
            _EVENT_MEMO.popitem(last=False)
    else:
        _EVENT_MEMO.move_to_end(key)
    return block


def zone_block(name: str) -> bytes:
    """The VTIMEZONE of an IANA zone, as icalendar's add_missing_timezones writes it."""
    block = _ZONE_MEMO.get(name)
    if block is None:
        block = _ZONE_MEMO[name] = Timezone.from_tzid(name).to_ical()
    return block


def sequence_of(event) -> int:
    """SEQUENCE (RFC 5545 §3.8.7.4): whole seconds from the event's creation to its
    last edit. Every edit moves ``updated_at`` forward, so the number only grows;
    counting from ``created_at`` keeps it small (well inside 32 bits) and needs
    no extra column. RSVPs do not touch ``updated_at``, so they do not bump it."""
    return max(0, int((event.updated_at - event.created_at).total_seconds()))


def webcal_url(event) -> str:
    """The event's .ics as a webcal:// link for web and desktop calendars, built
    from BASE_URL (never from the request's Host)."""
    return webcal_for("events.calendar", public_id=event.public_id)


def webcal_for(endpoint: str, **values) -> str:
    """Any calendar of ours (a hub's, a chapter's) as a webcal:// subscription link."""
    from flask import current_app, url_for

    base = current_app.config["BASE_URL"].rstrip("/").split("://", 1)[-1]
    return f"webcal://{base}{url_for(endpoint, **values)}"


def _entry(event, *, summary: str, location: str | None,
           online_url: str | None = None) -> CalendarEvent:
    from flask import current_app

    host = current_app.config["BASE_URL"].split("://", 1)[-1].split("/", 1)[0]
    zone = ZoneInfo(event.timezone)
    entry = CalendarEvent()
    entry.add("uid", f"{event.public_id}@{host}")
    entry.add("summary", summary)
    entry.add("dtstart", event.starts_at.astimezone(zone))
    entry.add("dtend", event.ends_at.astimezone(zone))
    # DTSTAMP and LAST-MODIFIED: when the event's information last changed, in UTC.
    entry.add("dtstamp", event.updated_at)
    entry.add("last-modified", event.updated_at)
    entry.add("sequence", sequence_of(event))
    url = absolute_url("events.detail", public_id=event.public_id)
    entry.add("url", url)
    entry.add("description", f"{url}\n{online_url}" if online_url else url)
    if location:
        entry.add("location", location)
    if event.status is EventStatus.CANCELLED:
        entry.add("status", "CANCELLED")
    return entry
