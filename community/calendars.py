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
    entry.add("dtstamp", event.updated_at)
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
