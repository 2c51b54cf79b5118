"""Recurrence rules of event series (community/events/series.py) and the
service that turns them into events: wall-clock times across daylight
saving in Europe/London and Australia/Sydney, count and end-date limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select

from community.audit_models import AuditEntry
from community.events import series
from community.events.manage import services as services
from community.events.models import EventStatus
from community.extensions import db
from community.factories import make_chapter, make_hub, make_membership, make_user
from community.hubs.models import MemberRole


@pytest.fixture(autouse=True)
def request_context(app):
    # Messages are translated with the request's locale.
    with app.test_request_context():
        yield


def naive(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time without a zone, as the recurrence rules take them."""
    return datetime.combine(date(year, month, day), time(hour, minute))


def starts(first: datetime, **repeat) -> list[datetime]:
    return series.occurrences(first, series.Repeat(**repeat))


@pytest.mark.parametrize(("day", "position"), [
    (date(2031, 3, 1), 1), (date(2031, 3, 8), 2), (date(2031, 3, 15), 3),
    (date(2031, 3, 22), 4), (date(2031, 3, 25), -1), (date(2031, 3, 29), -1),
    (date(2031, 2, 22), -1),  # February 2031 has 28 days
])
def test_weekday_position(day, position):
    assert series.weekday_position(day) == position


def test_weekly_by_count():
    assert starts(naive(2031, 3, 15, 19), frequency="weekly", count=4) == [
        naive(2031, 3, 15, 19), naive(2031, 3, 22, 19), naive(2031, 3, 29, 19),
        naive(2031, 4, 5, 19)]


def test_fortnightly_until_includes_the_last_date():
    assert starts(naive(2031, 3, 15, 19), frequency="fortnightly",
                  until=date(2031, 4, 26)) == [
        naive(2031, 3, 15, 19), naive(2031, 3, 29, 19), naive(2031, 4, 12, 19),
        naive(2031, 4, 26, 19)]


def test_monthly_second_saturday():
    found = starts(naive(2031, 3, 8, 10, 30), frequency="monthly", count=4)
    assert found == [naive(2031, 3, 8, 10, 30), naive(2031, 4, 12, 10, 30),
                     naive(2031, 5, 10, 10, 30), naive(2031, 6, 14, 10, 30)]
    assert all(day.weekday() == 5 for day in found)


def test_monthly_last_friday_from_the_last_week():
    assert starts(naive(2031, 1, 31, 18), frequency="monthly", count=4) == [
        naive(2031, 1, 31, 18), naive(2031, 2, 28, 18), naive(2031, 3, 28, 18),
        naive(2031, 4, 25, 18)]


def test_rule_text():
    first = naive(2031, 3, 8, 19)
    assert series.rule_text(first, series.Repeat("monthly", count=5)) == \
        "RRULE:FREQ=MONTHLY;COUNT=5;BYDAY=+2SA"
    assert series.rule_text(first, series.Repeat("fortnightly", until=date(2031, 6, 1))) == \
        "RRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL=20310601T235959"
    assert series.rule_text(first, series.Repeat("weekly", count=3)) == \
        "RRULE:FREQ=WEEKLY;COUNT=3"


def test_fifty_two_is_the_most():
    assert len(starts(naive(2031, 1, 4, 19), frequency="weekly", count=52)) == 52
    assert len(starts(naive(2031, 1, 4, 19), frequency="weekly",
                      until=date(2031, 12, 27))) == 52


@pytest.mark.parametrize(("repeat", "field", "message"), [
    ({"frequency": "weekly", "count": 0}, "repeat_count", "from 2 to 52"),
    ({"frequency": "weekly", "count": 1}, "repeat_count", "from 2 to 52"),
    ({"frequency": "weekly", "count": 53}, "repeat_count", "from 2 to 52"),
    ({"frequency": "weekly", "count": 999}, "repeat_count", "from 2 to 52"),
    ({"frequency": "weekly"}, "repeat_count", "Say when the series ends"),
    ({"frequency": "weekly", "count": 3, "until": date(2031, 5, 1)}, "repeat_count",
     "not both"),
    ({"frequency": "weekly", "until": date(2031, 3, 1)}, "repeat_until", "must end after"),
    ({"frequency": "weekly", "until": date(2031, 3, 15)}, "repeat_until", "must end after"),
    ({"frequency": "monthly", "until": date(2031, 3, 20)}, "repeat_until", "must end after"),
    ({"frequency": "weekly", "until": date(2032, 3, 15)}, "repeat_until",
     "more than 52 events"),
    ({"frequency": "daily", "count": 3}, "repeat_frequency", "Choose one of the options"),
])
def test_bad_settings_are_refused(repeat, field, message):
    with pytest.raises(series.RecurrenceError) as caught:
        starts(naive(2031, 3, 15, 19), **repeat)
    assert caught.value.field == field
    assert message in caught.value.message


def test_no_repeat_is_one_event():
    assert starts(naive(2031, 3, 15, 19), frequency="none") == [naive(2031, 3, 15, 19)]


# --- the service ----------------------------------------------------------------


@pytest.fixture
def hub_and_organiser():
    hub = make_hub(make_chapter("sr", default_timezone="Europe/London"), "series-hub")
    organiser = make_user("series-organiser@example.org")
    make_membership(organiser, hub, MemberRole.ORGANISER)
    return hub, organiser


def details(zone: str, day: date, at: time, end: time, **kw) -> services.EventDetails:
    return services.EventDetails(title_en="Weekly meet-up", timezone=zone, start_date=day,
                                 start_time=at, end_date=day, end_time=end, **kw)


def local(value: datetime, zone: str) -> datetime:
    return services.utc_to_local(value, zone)


def test_london_series_keeps_the_clock_time_across_both_changes(hub_and_organiser):
    hub, organiser = hub_and_organiser
    zone = "Europe/London"
    # Clocks go forward on 30 March 2031 and back on 26 October 2031.
    made = services.create_series(hub, organiser, details(zone, date(2031, 3, 22), time(19),
                                                          time(21)),
                                  series.Repeat("fortnightly", until=date(2031, 11, 1)))
    assert made.skipped == []
    events = made.events
    assert len(events) == 17
    assert {local(e.starts_at, zone).time() for e in events} == {time(19)}
    assert {local(e.ends_at, zone).time() for e in events} == {time(21)}
    assert events[0].starts_at == datetime(2031, 3, 22, 19, tzinfo=UTC)
    assert events[1].starts_at == datetime(2031, 4, 5, 18, tzinfo=UTC)
    assert events[-1].starts_at == datetime(2031, 11, 1, 19, tzinfo=UTC)
    assert len({e.series_id for e in events}) == 1 and events[0].series_id
    assert {e.recurrence_rule for e in events} == {
        "RRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL=20311101T235959"}
    assert {e.status for e in events} == {EventStatus.DRAFT}
    entries = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "event.create", AuditEntry.target_type == "event"))
    assert sorted(entry.target_id for entry in entries) == sorted(e.public_id for e in events)


def test_sydney_series_keeps_the_clock_time(hub_and_organiser):
    hub, organiser = hub_and_organiser
    zone = "Australia/Sydney"
    # Clocks go back on 6 April 2031 (AEDT +11 to AEST +10).
    made = services.create_series(hub, organiser, details(zone, date(2031, 3, 27), time(19),
                                                          time(20, 30)),
                                  series.Repeat("weekly", count=3))
    events = made.events
    assert [e.starts_at for e in events] == [
        datetime(2031, 3, 27, 8, tzinfo=UTC), datetime(2031, 4, 3, 8, tzinfo=UTC),
        datetime(2031, 4, 10, 9, tzinfo=UTC)]
    assert {local(e.starts_at, zone).time() for e in events} == {time(19)}


def test_sydney_monthly_across_the_october_change(hub_and_organiser):
    hub, organiser = hub_and_organiser
    zone = "Australia/Sydney"
    # Second Saturday; the clocks go forward on 5 October 2031.
    made = services.create_series(hub, organiser, details(zone, date(2031, 9, 13), time(10),
                                                          time(12)),
                                  series.Repeat("monthly", count=2))
    assert [local(e.starts_at, zone) for e in made.events] == [
        naive(2031, 9, 13, 10), naive(2031, 10, 11, 10)]
    assert [e.starts_at.astimezone(UTC).hour for e in made.events] == [0, 23]


def test_an_occurrence_in_a_gap_is_skipped_and_reported(hub_and_organiser):
    hub, organiser = hub_and_organiser
    made = services.create_series(
        hub, organiser, details("Europe/London", date(2031, 3, 23), time(1, 30), time(4)),
        series.Repeat("weekly", count=3))
    assert made.skipped == [date(2031, 3, 30)]
    assert [local(e.starts_at, "Europe/London") for e in made.events] == [
        naive(2031, 3, 23, 1, 30), naive(2031, 4, 6, 1, 30)]


def test_a_first_event_in_a_gap_is_refused(hub_and_organiser):
    hub, organiser = hub_and_organiser
    with pytest.raises(services.NonexistentLocalTime):
        services.create_series(
            hub, organiser, details("Europe/London", date(2031, 3, 30), time(1, 30), time(4)),
            series.Repeat("weekly", count=3))


def test_a_bad_repeat_is_an_event_manage_error(hub_and_organiser):
    hub, organiser = hub_and_organiser
    with pytest.raises(services.EventManageError) as caught:
        services.create_series(
            hub, organiser, details("Europe/London", date(2031, 3, 1), time(19), time(20)),
            series.Repeat("weekly", count=999))
    assert caught.value.field == "repeat_count"


def test_others_may_not_create_a_series(hub_and_organiser):
    hub, _organiser = hub_and_organiser
    with pytest.raises(services.NotAllowed):
        services.create_series(
            hub, make_user("stranger-series@example.org"),
            details("Europe/London", date(2031, 3, 1), time(19), time(20)),
            series.Repeat("weekly", count=3))
