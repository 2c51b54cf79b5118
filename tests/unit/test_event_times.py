"""Organisers' wall-clock times to UTC and back, across daylight saving
(community.events.manage.services)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from community.events.manage.services import (
    NonexistentLocalTime,
    is_ambiguous,
    local_to_utc,
    shift_wall_clock,
    utc_to_local,
)

pytestmark = pytest.mark.no_db


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def wall(year, month, day, hour=0, minute=0) -> datetime:
    """A naive wall-clock time, as organisers enter them (no zone on purpose)."""
    return datetime.combine(date(year, month, day), time(hour, minute))


# --- Europe/London: forward on 30 March 2031 at 01:00, back on 26 October at 02:00 ---

@pytest.mark.parametrize(("day", "at", "expected"), [
    (date(2031, 3, 30), time(0, 59), utc(2031, 3, 30, 0, 59)),    # still GMT
    (date(2031, 3, 30), time(2, 0), utc(2031, 3, 30, 1, 0)),      # BST from here
    (date(2031, 6, 14), time(19, 30), utc(2031, 6, 14, 18, 30)),
    (date(2031, 12, 1), time(19, 30), utc(2031, 12, 1, 19, 30)),
])
def test_london_times_either_side_of_the_clock_change(day, at, expected):
    assert local_to_utc(day, at, "Europe/London") == expected


@pytest.mark.parametrize("at", [time(1, 0), time(1, 30), time(1, 59)])
def test_london_spring_forward_gap_does_not_exist(at):
    with pytest.raises(NonexistentLocalTime) as raised:
        local_to_utc(date(2031, 3, 30), at, "Europe/London", field="start_time")
    assert raised.value.field == "start_time"
    # The message names the time and suggests the one after the change.
    assert at.strftime("%H:%M") in raised.value.message
    assert f"02:{at.minute:02d}" in raised.value.message


def test_london_fall_back_takes_the_first_of_the_two_times():
    day, at = date(2031, 10, 26), time(1, 30)
    assert is_ambiguous(day, at, "Europe/London")
    # 01:30 BST (UTC+1) comes before 01:30 GMT.
    assert local_to_utc(day, at, "Europe/London") == utc(2031, 10, 26, 0, 30)
    assert not is_ambiguous(day, time(2, 0), "Europe/London")
    assert not is_ambiguous(day, time(0, 59), "Europe/London")


def test_a_gap_time_is_not_called_ambiguous():
    assert not is_ambiguous(date(2031, 3, 30), time(1, 30), "Europe/London")


# --- Australia/Sydney: back on 6 April 2031 at 03:00, forward on 5 October at 02:00 ---

def test_sydney_fall_back_in_april_takes_daylight_time():
    day, at = date(2031, 4, 6), time(2, 30)
    assert is_ambiguous(day, at, "Australia/Sydney")
    # 02:30 AEDT (UTC+11), the first of the two.
    assert local_to_utc(day, at, "Australia/Sydney") == utc(2031, 4, 5, 15, 30)
    assert local_to_utc(day, time(3, 0), "Australia/Sydney") == utc(2031, 4, 5, 17, 0)


def test_sydney_spring_forward_in_october_has_a_gap():
    # 01:59 AEST (UTC+10), then 03:00 AEDT (UTC+11): one minute apart.
    with pytest.raises(NonexistentLocalTime):
        local_to_utc(date(2031, 10, 5), time(2, 15), "Australia/Sydney")
    assert local_to_utc(date(2031, 10, 5), time(1, 59), "Australia/Sydney") == utc(
        2031, 10, 4, 15, 59)
    assert local_to_utc(date(2031, 10, 5), time(3, 0), "Australia/Sydney") == utc(
        2031, 10, 4, 16, 0)


def test_northern_and_southern_summers_are_opposite():
    # 19:00 on 1 January: London is on GMT, Sydney on daylight time (UTC+11).
    january = date(2031, 1, 1)
    assert local_to_utc(january, time(19), "Europe/London") == utc(2031, 1, 1, 19)
    assert local_to_utc(january, time(19), "Australia/Sydney") == utc(2031, 1, 1, 8)
    july = date(2031, 7, 1)
    assert local_to_utc(july, time(19), "Europe/London") == utc(2031, 7, 1, 18)
    assert local_to_utc(july, time(19), "Australia/Sydney") == utc(2031, 7, 1, 9)


# --- zones far apart ----------------------------------------------------------------

def test_the_same_wall_clock_time_is_25_hours_apart_across_the_date_line():
    day, at = date(2031, 1, 1), time(0, 0)
    kiritimati = local_to_utc(day, at, "Pacific/Kiritimati")   # UTC+14
    pago_pago = local_to_utc(day, at, "Pacific/Pago_Pago")      # UTC-11
    assert kiritimati == utc(2030, 12, 31, 10)
    assert pago_pago == utc(2031, 1, 1, 11)
    assert pago_pago - kiritimati == timedelta(hours=25)


def test_hong_kong_and_vancouver():
    # An online event at 20:00 in Hong Kong is 05:00 the same day in Vancouver (PDT).
    instant = local_to_utc(date(2031, 6, 14), time(20), "Asia/Hong_Kong")
    assert instant == utc(2031, 6, 14, 12)
    assert utc_to_local(instant, "America/Vancouver") == wall(2031, 6, 14, 5)
    assert utc_to_local(instant, "Asia/Hong_Kong") == wall(2031, 6, 14, 20)


def test_half_and_quarter_hour_zones():
    assert local_to_utc(date(2031, 6, 1), time(12), "Asia/Kolkata") == utc(2031, 6, 1, 6, 30)
    assert local_to_utc(date(2031, 6, 1), time(12), "Asia/Kathmandu") == utc(
        2031, 6, 1, 6, 15)


# --- a week later, at the same wall-clock time ----------------------------------------

def test_shift_keeps_the_wall_clock_time_across_spring_forward():
    start = local_to_utc(date(2031, 3, 25), time(19), "Europe/London")
    later = shift_wall_clock(start, "Europe/London", timedelta(days=7))
    assert utc_to_local(later, "Europe/London") == wall(2031, 4, 1, 19)
    assert later - start == timedelta(days=6, hours=23)


def test_shift_into_a_gap_moves_past_it():
    start = local_to_utc(date(2031, 3, 23), time(1, 30), "Europe/London")
    later = shift_wall_clock(start, "Europe/London", timedelta(days=7))
    assert utc_to_local(later, "Europe/London") == wall(2031, 3, 30, 2, 30)


def test_shift_into_an_ambiguous_time_takes_the_first():
    start = local_to_utc(date(2031, 10, 19), time(1, 30), "Europe/London")
    later = shift_wall_clock(start, "Europe/London", timedelta(days=7))
    assert later == utc(2031, 10, 26, 0, 30)


# --- round trips ----------------------------------------------------------------------

ZONES = ["Europe/London", "Australia/Sydney", "America/New_York", "Asia/Hong_Kong",
         "Asia/Taipei", "America/Vancouver", "Pacific/Chatham", "Australia/Lord_Howe"]


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=wall(2000, 1, 1), max_value=wall(2100, 12, 31)),
       st.sampled_from(ZONES))
def test_every_existing_wall_clock_time_round_trips(wall, zone):
    wall = wall.replace(microsecond=0)
    try:
        instant = local_to_utc(wall.date(), wall.time(), zone)
    except NonexistentLocalTime:
        return
    assert instant.tzinfo is UTC
    assert utc_to_local(instant, zone) == wall


def test_time_zones_are_the_ones_babel_can_format_too():
    """zoneinfo lists Factory and localtime; Babel (and so Flask-Babel) cannot use them."""
    from community.i18n import all_timezones, canonical_timezone, valid_timezone

    assert {"Factory", "localtime"}.isdisjoint(all_timezones())
    assert valid_timezone("Factory") is None and canonical_timezone("factory") is None
    assert valid_timezone("Europe/London") == "Europe/London"
    assert canonical_timezone("asia/hong kong") == "Asia/Hong_Kong"
    assert len(all_timezones()) > 400
