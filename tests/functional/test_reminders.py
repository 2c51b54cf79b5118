"""`flask --app wsgi send-reminders`: confirmed attendees hear about an event once,
about a day before, in their own language, with no place in the email (R44)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from community.events.models import EventStatus, RsvpStatus, Tier
from community.events.reminders import reminder_key, send_reminders
from community.factories import make_event, make_hub, make_membership, make_rsvp, make_user
from tests.conftest import outbox

NOW = datetime(2031, 3, 10, 12, tzinfo=UTC)
ADDRESS = "MARKER-ADDRESS 12 Secret Street"
LINK = "https://meet.example/MARKER-LINK"


def soon(**kw):
    hub = kw.pop("hub", None) or make_hub(timezone="Europe/London")
    return make_event(hub, title_en="Dumpling night", title_zh="包餃子夜",
                      starts_at=kw.pop("starts_at", NOW + timedelta(hours=20)),
                      address=ADDRESS, online_url=LINK,
                      location_visibility=Tier.ATTENDEES, online_visibility=Tier.ATTENDEES,
                      **kw)


def test_confirmed_attendees_are_reminded_once_through_the_outbox(app, runner):
    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        event = soon()
        going, chinese = make_user("going@remind.example"), make_user(
            "zh@remind.example", locale="zh_Hant_HK")
        muted, waiting, pending = (make_user(f"{n}@remind.example")
                                   for n in ("muted", "waiting", "pending"))
        muted.notify_reminders = False
        for person in (going, chinese, muted):
            make_rsvp(event, person)
        make_rsvp(event, waiting, RsvpStatus.WAITLISTED)
        make_rsvp(event, pending, RsvpStatus.PENDING)
    with time_machine.travel(NOW, tick=False):
        result = runner.invoke(args=["send-reminders"])
        assert result.exit_code == 0, result.output
        assert "2 reminder(s) queued." in result.output
        assert "Writing reminders" in result.output  # click's progress bar
        again = runner.invoke(args=["send-reminders"])
        assert "0 reminder(s) queued." in again.output
    [english] = outbox(going.email)
    [translated] = outbox(chinese.email)
    assert english.dedupe_key == reminder_key(event, going)
    assert english.subject == "Reminder: Dumpling night"
    assert "包餃子夜" in translated.subject
    assert f"https://harbour.test/events/{event.public_id}" in english.body_text
    assert "2031" in english.body_text
    for email in (english, translated):
        body = email.subject + email.body_text + email.body_html
        assert "MARKER" not in body
    for person in (muted, waiting, pending):
        assert outbox(person.email) == []


def test_the_window_is_24_hours_by_default_and_configurable(app, runner):
    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        tomorrow = soon(starts_at=NOW + timedelta(hours=23))
        later = soon(starts_at=NOW + timedelta(hours=30))
        past = soon(starts_at=NOW - timedelta(hours=1))
        cancelled = soon(status=EventStatus.CANCELLED)
        people = {e: make_user() for e in (tomorrow, later, past, cancelled)}
        for event, person in people.items():
            make_rsvp(event, person)
    with time_machine.travel(NOW, tick=False):
        assert send_reminders() == 1
        assert len(outbox(people[tomorrow].email)) == 1
        for event in (later, past, cancelled):
            assert outbox(people[event].email) == []
        result = runner.invoke(args=["send-reminders", "--hours", "36"])
        assert "1 reminder(s) queued." in result.output
        assert len(outbox(people[later].email)) == 1
        assert send_reminders(window=timedelta(hours=48)) == 0


def test_running_again_a_day_later_does_not_repeat_and_skips_people_who_left(app):
    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        hub = make_hub()
        from community.events.models import Audience

        event = soon(hub=hub, audience=Audience.MEMBERS)
        stays, leaves = make_user(), make_user()
        make_membership(stays, hub)
        membership = make_membership(leaves, hub)
        make_rsvp(event, stays)
        make_rsvp(event, leaves)
        from community.extensions import db

        db.session.delete(membership)
        db.session.flush()
    with time_machine.travel(NOW, tick=False):
        assert send_reminders() == 1
    with time_machine.travel(NOW + timedelta(hours=10), tick=False):
        assert send_reminders() == 0
    assert len(outbox(stays.email)) == 1 and outbox(leaves.email) == []
