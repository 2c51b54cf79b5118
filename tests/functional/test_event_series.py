"""Event series through the organiser pages: creating one from the new-event
form, the organiser's list, editing, publishing and cancelling "only this" or
"this and following", and bad repeat settings (never a 500)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pyotp
import pytest
from markupsafe import escape
from sqlalchemy import select

from community.audit_models import AuditEntry
from community.events.models import Event, EventStatus
from community.extensions import db
from community.factories import make_chapter, make_hub, make_membership, make_rsvp, make_user
from community.hubs.models import MemberRole
from tests.conftest import csrf_token, login_as, outbox

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def world():
    hub = make_hub(make_chapter("es", default_timezone="Europe/London"), "series-hub",
                   name_en="Series Hub")
    organiser = make_user("organiser@series.example", totp_secret=pyotp.random_base32())
    make_membership(organiser, hub, MemberRole.ORGANISER)
    members = [make_user(f"member{n}@series.example") for n in range(5)]
    for member in members:
        make_membership(member, hub)
    return {"hub": hub, "organiser": organiser, "members": members}


@pytest.fixture
def client(app, world):
    return login_as(app.test_client(), world["organiser"])


def form_data(**overrides) -> dict:
    """A valid new event: Saturday evenings in London from mid-March 2031."""
    data = {
        "title_en": "Board games", "timezone": "Europe/London",
        "start_date": "2031-03-15", "start_time": "19:00",
        "end_date": "2031-03-15", "end_time": "21:30",
        "mode": "in_person", "location_visibility": "public",
        "online_visibility": "attendees", "audience": "public", "max_guests": "0",
        "waitlist_enabled": "y", "lang_en": "y",
        "repeat_frequency": "weekly", "repeat_count": "", "repeat_until": "",
    }
    data.update(overrides)
    return data


def post_new(client, hub, **overrides):
    page = client.get(f"/hubs/{hub.slug}/events/new")
    return client.post(f"/hubs/{hub.slug}/events/new",
                       data={"csrf_token": csrf_token(page), **form_data(**overrides)})


def post_to(client, event, action: str, data: dict):
    page = client.get(f"/events/{event.public_id}/edit")
    return client.post(f"/events/{event.public_id}/{action}",
                       data={"csrf_token": csrf_token(page), **data})


def edit_data(event: Event, **overrides) -> dict:
    """The edit form as the page shows it for ``event``, with ``overrides``."""
    local = event.starts_at.astimezone(ZoneInfo(event.timezone))
    end = event.ends_at.astimezone(ZoneInfo(event.timezone))
    data = form_data(title_en=event.title_en, start_date=local.date().isoformat(),
                     start_time=local.strftime("%H:%M"), end_date=end.date().isoformat(),
                     end_time=end.strftime("%H:%M"))
    for name in ("repeat_frequency", "repeat_count", "repeat_until"):
        data.pop(name)
    data.update(overrides)
    return data


def series_of(hub) -> list[Event]:
    db.session.expire_all()
    return list(db.session.scalars(select(Event).where(Event.hub_id == hub.id)
                                   .order_by(Event.starts_at)))


def audit(action: str) -> list[str]:
    return list(db.session.scalars(select(AuditEntry.target_id).where(
        AuditEntry.action == action, AuditEntry.target_type == "event")
        .order_by(AuditEntry.id)))


def cancellations() -> list:
    """Cancellation emails only (publishing may notify members too)."""
    return [e for e in outbox() if (e.dedupe_key or "").startswith("cancel:")]


def text(response) -> str:
    return response.get_data(as_text=True)


def wall(value: datetime) -> tuple[date, time]:
    local = value.astimezone(LONDON)
    return local.date(), local.time()


def make_series(client, world, count: int = 5, publish: bool = True) -> list[Event]:
    response = post_new(client, world["hub"], repeat_count=str(count))
    assert response.status_code == 302, text(response)
    events = series_of(world["hub"])
    if publish:
        response = post_to(client, events[0], "publish", {"scope": "following"})
        assert response.status_code == 302
        events = series_of(world["hub"])
    return events


# --- creating -----------------------------------------------------------------------


def test_the_new_event_form_offers_repeat_without_javascript(client, world):
    page = text(client.get(f"/hubs/{world['hub'].slug}/events/new"))
    assert 'name="repeat_frequency"' in page
    for value in ("none", "weekly", "fortnightly", "monthly"):
        assert f'value="{value}"' in page
    assert 'name="repeat_count"' in page and 'name="repeat_until"' in page
    assert "<script" not in page.split("<main", 1)[-1]


def test_a_single_event_is_still_one_event(client, world):
    response = post_new(client, world["hub"], repeat_frequency="none")
    assert response.status_code == 302
    [event] = series_of(world["hub"])
    assert event.series_id is None and event.recurrence_rule == ""
    assert 'name="scope"' not in text(client.get(response.headers["Location"]))


def test_a_weekly_series_across_the_clock_change(client, world):
    response = post_new(client, world["hub"], repeat_count="10")
    assert response.status_code == 302
    events = series_of(world["hub"])
    assert len(events) == 10
    assert response.headers["Location"].endswith(f"/events/{events[0].public_id}/edit")
    assert len({e.series_id for e in events}) == 1 and len(events[0].series_id) >= 16
    assert {e.recurrence_rule for e in events} == {"RRULE:FREQ=WEEKLY;COUNT=10"}
    assert {e.status for e in events} == {EventStatus.DRAFT}
    assert [wall(e.starts_at)[0] for e in events][:3] == [
        date(2031, 3, 15), date(2031, 3, 22), date(2031, 3, 29)]
    # British Summer Time starts on 30 March 2031: the clock time holds, UTC moves.
    assert {wall(e.starts_at)[1] for e in events} == {time(19)}
    assert {wall(e.ends_at)[1] for e in events} == {time(21, 30)}
    assert events[2].starts_at == datetime(2031, 3, 29, 19, tzinfo=UTC)
    assert events[3].starts_at == datetime(2031, 4, 5, 18, tzinfo=UTC)
    assert sorted(audit("event.create")) == sorted(e.public_id for e in events)
    page = text(client.get(response.headers["Location"]))
    assert "10 drafts" in page
    assert "This is event 1 of 10 in a series." in page


def test_a_monthly_series_by_weekday_until_a_date(client, world):
    response = post_new(client, world["hub"], start_date="2031-03-08", end_date="2031-03-08",
                        repeat_frequency="monthly", repeat_until="2031-07-31")
    assert response.status_code == 302
    events = series_of(world["hub"])
    assert [wall(e.starts_at)[0] for e in events] == [
        date(2031, 3, 8), date(2031, 4, 12), date(2031, 5, 10), date(2031, 6, 14),
        date(2031, 7, 12)]
    assert events[0].recurrence_rule == "RRULE:FREQ=MONTHLY;UNTIL=20310731T235959;BYDAY=+2SA"


def test_a_fortnightly_series_of_52(client, world):
    response = post_new(client, world["hub"], repeat_frequency="fortnightly",
                        repeat_count="52")
    assert response.status_code == 302
    events = series_of(world["hub"])
    assert len(events) == 52
    assert wall(events[-1].starts_at) == (date(2033, 2, 26), time(19))


def test_occurrences_in_a_gap_are_left_out_and_reported(client, world):
    response = post_new(client, world["hub"], start_date="2031-03-23", end_date="2031-03-23",
                        start_time="01:30", end_time="03:30", repeat_count="3")
    assert response.status_code == 302
    assert [wall(e.starts_at) for e in series_of(world["hub"])] == [
        (date(2031, 3, 23), time(1, 30)), (date(2031, 4, 6), time(1, 30))]
    page = text(client.get(response.headers["Location"]))
    assert "2031-03-30" in page and "clocks go forward" in page


@pytest.mark.parametrize(("overrides", "message"), [
    ({"repeat_count": "0"}, "Enter a number of events from 2 to 52."),
    ({"repeat_count": "999"}, "Enter a number of events from 2 to 52."),
    ({"repeat_count": "-3"}, "Enter a number of events from 2 to 52."),
    ({"repeat_count": "ten"}, "Enter a whole number, such as 7."),
    ({"repeat_until": "2031-03-01"}, "The series must end after the first event&#39;s date."),
    ({"repeat_until": "2033-03-01"}, "That end date makes more than 52 events."),
    ({"repeat_until": "someday"}, "Enter a date such as 2031-03-30."),
    ({}, "Say when the series ends: a last date or a number of events."),
    ({"repeat_count": "4", "repeat_until": "2031-05-01"},
     "Give either a last date or a number of events, not both."),
    ({"repeat_frequency": "daily", "repeat_count": "4"},
     "Choose one of the options in the list."),
    ({"repeat_frequency": "", "repeat_count": "4"}, "Choose one of the options in the list."),
    ({"repeat_count": "4", "start_time": "01:30", "start_date": "2031-03-30",
      "end_date": "2031-03-30", "end_time": "03:30"}, "does not exist in Europe/London"),
])
def test_bad_repeat_settings_are_shown_on_the_form(client, world, overrides, message):
    response = post_new(client, world["hub"], **overrides)
    assert response.status_code == 400
    page = text(response)
    assert message in page
    assert 'value="Board games"' in page  # the input is kept
    assert series_of(world["hub"]) == []


def test_bad_repeat_messages_are_translated(client, world):
    world["organiser"].locale = "zh_Hant_HK"
    db.session.flush()
    response = post_new(client, world["hub"], repeat_frequency="daily", repeat_count="4")
    assert response.status_code == 400
    assert "請喺清單揀一個選項。" in text(response)


# --- the organiser's list -----------------------------------------------------------


def test_the_list_marks_each_occurrence(client, world):
    make_series(client, world, count=10)
    page = text(client.get(f"/hubs/{world['hub'].slug}/events"))
    for n in range(1, 11):
        assert f"{n} of 10 in a series" in page


# --- publishing ---------------------------------------------------------------------


def test_publish_only_this_or_this_and_following(client, world):
    events = make_series(client, world, count=4, publish=False)
    response = post_to(client, events[1], "publish", {"scope": "this"})
    assert response.status_code == 302
    assert [e.status for e in series_of(world["hub"])] == [
        EventStatus.DRAFT, EventStatus.PUBLISHED, EventStatus.DRAFT, EventStatus.DRAFT]
    response = post_to(client, events[2], "publish", {"scope": "following"})
    assert response.status_code == 302
    assert [e.status for e in series_of(world["hub"])] == [
        EventStatus.DRAFT, EventStatus.PUBLISHED, EventStatus.PUBLISHED, EventStatus.PUBLISHED]
    assert audit("event.publish") == [events[1].public_id, events[2].public_id,
                                      events[3].public_id]
    assert "2 events of the series are published" in text(
        client.get(response.headers["Location"]))


# --- editing ------------------------------------------------------------------------


def test_edit_this_and_following_touches_exactly_the_right_rows(client, world):
    events = make_series(client, world, count=5)
    cancelled = events[3]
    assert post_to(client, cancelled, "cancel", {"scope": "this", "message": "Hall closed"}
                   ).status_code == 302
    before = {e.id: (e.title_en, e.starts_at, e.ends_at) for e in series_of(world["hub"])}
    edits_before = len(audit("event.edit"))

    page = text(client.get(f"/events/{events[2].public_id}/edit"))
    assert 'name="scope"' in page and "This and following events" in page
    response = post_to(client, events[2], "edit", edit_data(
        events[2], title_en="Board games night", start_time="19:30", end_time="22:00",
        scope="following"))
    assert response.status_code == 302, text(response)
    assert "this event and 1 following event" in text(client.get(response.headers["Location"]))

    after = series_of(world["hub"])
    for event in after[:2]:
        assert (event.title_en, event.starts_at, event.ends_at) == before[event.id]
    assert (after[3].title_en, after[3].starts_at) == before[cancelled.id][:2]
    for event in (after[2], after[4]):
        assert event.title_en == "Board games night"
        # Same date as before; the new time of day on the clock.
        assert wall(event.starts_at) == (wall(before[event.id][1])[0], time(19, 30))
        assert wall(event.ends_at)[1] == time(22)
    assert audit("event.edit")[edits_before:] == [after[2].public_id, after[4].public_id]


def test_edit_only_this_leaves_the_others(client, world):
    events = make_series(client, world, count=3)
    response = post_to(client, events[1], "edit", edit_data(events[1], title_en="Special",
                                                              scope="this"))
    assert response.status_code == 302
    assert [e.title_en for e in series_of(world["hub"])] == [
        "Board games", "Special", "Board games"]


def test_edit_following_does_not_move_the_dates(client, world):
    events = make_series(client, world, count=3)
    dates = [wall(e.starts_at)[0] for e in events]
    # Moving this occurrence a day later moves only this one.
    response = post_to(client, events[0], "edit", edit_data(
        events[0], start_date="2031-03-16", end_date="2031-03-16", capacity="12",
        scope="following"))
    assert response.status_code == 302
    after = series_of(world["hub"])
    assert [wall(e.starts_at)[0] for e in after] == [date(2031, 3, 16), *dates[1:]]
    assert [e.capacity for e in after] == [12, 12, 12]


def test_a_refused_following_edit_changes_nothing(client, world):
    events = make_series(client, world, count=3)
    for member in world["members"][:2]:
        make_rsvp(events[2], member)
    response = post_to(client, events[0], "edit", edit_data(events[0], capacity="1",
                                                              title_en="Changed",
                                                              scope="following"))
    assert response.status_code == 400
    assert "2 places are already taken" in text(response)
    assert {e.title_en for e in series_of(world["hub"])} == {"Board games"}


# --- cancelling ---------------------------------------------------------------------


def test_cancel_this_and_following_emails_each_occurrences_answers(client, world):
    events = make_series(client, world, count=5)
    members = world["members"]
    for n, event in enumerate(events):
        make_rsvp(event, members[n])
    make_rsvp(events[4], members[0])
    extra = series_of(world["hub"])

    response = post_to(client, events[2], "cancel", {"scope": "following",
                                                     "message": "The café closes."})
    assert response.status_code == 302, text(response)
    page = text(client.get(response.headers["Location"]))
    assert "3 events of the series are cancelled" in page
    after = series_of(world["hub"])
    assert [e.status for e in after] == [EventStatus.PUBLISHED] * 2 + [
        EventStatus.CANCELLED] * 3
    assert {e.cancel_message for e in after[2:]} == {"The café closes."}
    assert audit("event.cancel") == [e.public_id for e in extra[2:]]
    assert sorted(e.to_address for e in cancellations()) == sorted(
        [members[2].email, members[3].email, members[4].email, members[0].email])
    assert all(escape("The café closes.") not in e.body_text for e in cancellations())


def test_cancel_only_this(client, world):
    events = make_series(client, world, count=3)
    make_rsvp(events[1], world["members"][1])
    make_rsvp(events[2], world["members"][2])
    response = post_to(client, events[1], "cancel", {"scope": "this", "message": "Ill"})
    assert response.status_code == 302
    assert [e.status for e in series_of(world["hub"])] == [
        EventStatus.PUBLISHED, EventStatus.CANCELLED, EventStatus.PUBLISHED]
    assert [e.to_address for e in cancellations()] == [world["members"][1].email]


def test_cancel_following_skips_drafts_and_cancelled(client, world):
    events = make_series(client, world, count=4, publish=False)
    post_to(client, events[0], "publish", {"scope": "this"})
    post_to(client, events[2], "publish", {"scope": "this"})
    response = post_to(client, events[0], "cancel", {"scope": "following", "message": "Off"})
    assert response.status_code == 302
    assert [e.status for e in series_of(world["hub"])] == [
        EventStatus.CANCELLED, EventStatus.DRAFT, EventStatus.CANCELLED, EventStatus.DRAFT]


def test_an_unknown_scope_is_refused_without_a_500(client, world):
    events = make_series(client, world, count=2)
    response = post_to(client, events[0], "cancel", {"scope": "all", "message": "Off"})
    assert response.status_code == 400
    assert "Choose one of the options in the list." in text(response)
    response = post_to(client, events[0], "edit", edit_data(events[0], scope="everything"))
    assert response.status_code == 400
    assert {e.status for e in series_of(world["hub"])} == {EventStatus.PUBLISHED}
