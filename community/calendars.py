"""iCalendar files. Every time carries its time zone; a location appears only
for those allowed to see it (R3)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from icalendar import Calendar
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


def add_event(calendar: Calendar, event, *, location: str | None,
              online_url: str | None = None) -> None:
    from flask import current_app

    host = current_app.config["BASE_URL"].split("://", 1)[-1].split("/", 1)[0]
    zone = ZoneInfo(event.timezone)
    entry = CalendarEvent()
    entry.add("uid", f"{event.public_id}@{host}")
    entry.add("summary", localized(event, "title").text)
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
    calendar.add_component(entry)


def to_bytes(calendar: Calendar) -> bytes:
    calendar.add_missing_timezones()
    return calendar.to_ical()
