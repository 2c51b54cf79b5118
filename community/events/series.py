"""Recurrence rules of an event series: weekly, fortnightly, or monthly on the
first date's weekday position ("second Saturday", "last Friday").

Occurrences are computed on naive wall-clock times in the event's own zone,
so 19:00 stays 19:00 across a daylight-saving change; converting each one to
UTC (and skipping times the clocks jump over) is manage_services' job.
Nothing here touches the database.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import islice

from dateutil import rrule
from flask_babel import gettext as _

from community.errors import DomainError

NONE = "none"
WEEKLY = "weekly"
FORTNIGHTLY = "fortnightly"
MONTHLY = "monthly"
FREQUENCIES = (NONE, WEEKLY, FORTNIGHTLY, MONTHLY)
MIN_OCCURRENCES = 2
MAX_OCCURRENCES = 52
_WEEKDAYS = (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU)




class RecurrenceError(DomainError):
    """A repeat setting that cannot make a series. ``message`` is translated;
    ``field`` names the form field it concerns."""


@dataclass
class Repeat:
    """How a new event repeats: ``frequency`` is one of FREQUENCIES; a series
    ends after ``count`` events or on ``until`` (a local date), not both."""

    frequency: str = NONE
    count: int | None = None
    until: date | None = None

    @property
    def repeats(self) -> bool:
        return self.frequency != NONE


def weekday_position(day: date) -> int:
    """Which of its month's weekdays ``day`` is: 1 to 4, or -1 for the last
    week, so a series started on a 5th Friday keeps to the last Friday
    instead of skipping months that have only four."""
    if day.day + 7 > calendar.monthrange(day.year, day.month)[1]:
        return -1
    return (day.day - 1) // 7 + 1


def build_rule(first: datetime, repeat: Repeat) -> rrule.rrule:
    """The rrule of ``repeat`` starting at the naive wall-clock time ``first``.
    Raises RecurrenceError for an unknown frequency."""
    # RFC 5545 allows COUNT or UNTIL, not both (dateutil warns).
    until = (datetime.combine(repeat.until, time(23, 59, 59)) if repeat.until is not None
             else None)
    count = None if until is not None else repeat.count
    if repeat.frequency == WEEKLY:
        return rrule.rrule(rrule.WEEKLY, dtstart=first, count=count, until=until)
    if repeat.frequency == FORTNIGHTLY:
        return rrule.rrule(rrule.WEEKLY, interval=2, dtstart=first, count=count, until=until)
    if repeat.frequency == MONTHLY:
        weekday = _WEEKDAYS[first.weekday()](weekday_position(first.date()))
        return rrule.rrule(rrule.MONTHLY, byweekday=weekday, dtstart=first, count=count,
                           until=until)
    raise RecurrenceError(_("Choose one of the options in the list."),
                          field="repeat_frequency")


def rule_text(first: datetime, repeat: Repeat) -> str:
    """The RFC 5545 RRULE line of ``repeat`` (without DTSTART), as stored on
    each occurrence."""
    lines = str(build_rule(first, repeat)).splitlines()
    return next(line for line in lines if line.startswith("RRULE:"))


def check(first: datetime, repeat: Repeat) -> None:
    """Raise RecurrenceError, naming its field, unless ``repeat`` can make a
    series of MIN_OCCURRENCES to MAX_OCCURRENCES events from ``first``."""
    if repeat.frequency not in FREQUENCIES:
        raise RecurrenceError(_("Choose one of the options in the list."),
                              field="repeat_frequency")
    if not repeat.repeats:
        return
    if repeat.count is None and repeat.until is None:
        raise RecurrenceError(_("Say when the series ends: a last date or a number of "
                                "events."), field="repeat_count")
    if repeat.count is not None and repeat.until is not None:
        raise RecurrenceError(_("Give either a last date or a number of events, not both."),
                              field="repeat_count")
    if repeat.count is not None and not (
            MIN_OCCURRENCES <= repeat.count <= MAX_OCCURRENCES):
        raise RecurrenceError(_("Enter a number of events from %(min)s to %(max)s.",
                                min=MIN_OCCURRENCES, max=MAX_OCCURRENCES),
                              field="repeat_count")
    if repeat.until is not None and repeat.until <= first.date():
        raise RecurrenceError(_("The series must end after the first event's date."),
                              field="repeat_until")


def occurrences(first: datetime, repeat: Repeat) -> list[datetime]:
    """The naive wall-clock start of each event of the series, ``first``
    included. Raises RecurrenceError for a setting check() refuses, for a
    series of fewer than two events, or for more than MAX_OCCURRENCES."""
    check(first, repeat)
    if not repeat.repeats:
        return [first]
    # One more than allowed, to tell a long end date from an allowed one.
    starts = list(islice(build_rule(first, repeat), MAX_OCCURRENCES + 1))
    if len(starts) > MAX_OCCURRENCES:
        raise RecurrenceError(_("That end date makes more than %(max)s events. Choose an "
                                "earlier date.", max=MAX_OCCURRENCES), field="repeat_until")
    if len(starts) < MIN_OCCURRENCES:
        raise RecurrenceError(_("The series must end after the first event's date."),
                              field="repeat_until")
    return starts
