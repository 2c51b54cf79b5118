"""Burn after the event (issue 13): the answers to a burn-after event are
deleted after it ends plus the grace period; the numbers stay for organisers,
and attendees are told beforehand."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from community import audit, jobs
from community.audit_models import AuditEntry
from community.database import utcnow
from community.events.models import Event, Rsvp, RsvpStatus
from community.extensions import db
from community.factories import make_event, make_rsvp, make_user
from community.mail import queue_email
from community.outbox_models import OutboxEmail
from tests.functional import test_event_management as manage
from tests.functional.test_event_management import (
    events_of,
    form_data,
    organiser,
    post_edit,
    post_new,
    reload,
    text,
)

world = manage.world


def _answers(event: Event) -> int:
    return db.session.scalar(select(func.count()).select_from(Rsvp)
                             .where(Rsvp.event_id == event.id))


def _mail_with(key: str) -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxEmail)
                             .where(OutboxEmail.dedupe_key == key))


def test_a_high_risk_hub_ticks_burn_after_and_the_form_saves_it(app, world):
    hub = world["hub"]
    client = organiser(app, world)
    page = text(client.get(f"/hubs/{hub.slug}/events/new"))
    assert not re.search(r'<input[^>]*checked[^>]*name="burn_after"|'
                         r'<input[^>]*name="burn_after"[^>]*checked', page)
    hub.high_risk = True
    db.session.flush()
    page = text(client.get(f"/hubs/{hub.slug}/events/new"))
    assert re.search(r'<input[^>]*checked[^>]*name="burn_after"|'
                     r'<input[^>]*name="burn_after"[^>]*checked', page)
    post_new(client, hub, burn_after="y")
    post_new(client, hub, title_en="Kept")
    burning, kept = events_of(hub)
    assert burning.burn_after and not kept.burn_after


def test_burn_deletes_answers_check_ins_and_their_mail_and_keeps_the_numbers(app, world):
    hub = world["hub"]
    ended = utcnow() - timedelta(days=2)
    event = make_event(hub, starts_at=ended - timedelta(hours=2), ends_at=ended,
                       burn_after=True)
    recent = make_event(hub, starts_at=utcnow() - timedelta(hours=3),
                        ends_at=utcnow() - timedelta(hours=1), burn_after=True)
    kept = make_event(hub, starts_at=ended - timedelta(hours=2), ends_at=ended)
    people = [make_user() for _ in range(3)]
    first = make_rsvp(event, people[0], guests=2, note="Need step-free access")
    first.checked_in_at = ended - timedelta(hours=1)
    second = make_rsvp(event, people[1])
    make_rsvp(event, people[2], status=RsvpStatus.WAITLISTED)
    for other in (recent, kept):
        make_rsvp(other, people[0])
    keys = [f"going:{first.public_id}", f"waitlist:{second.public_id}",
            f"organiser-message:{first.public_id}:abc",
            f"reminder:{event.public_id}:{people[1].public_id}",
            f"reminder:{kept.public_id}:{people[0].public_id}"]
    for key in keys:
        queue_email(db.session, to_address=people[0].email, subject="About the event",
                    body_text="…", dedupe_key=key, user_id=people[0].id)
    audit.record(world["users"]["organiser"], "attendees.view", "event",
                 event.public_id, hub=hub, subject_user=people[1])
    db.session.flush()

    assert jobs.burn_events() == 1

    event, recent, kept = reload(event), db.session.get(Event, recent.id), \
        db.session.get(Event, kept.id)
    assert _answers(event) == 0
    assert (event.final_going_count, event.final_checked_in_count) == (4, 1)
    assert event.burned_at is not None
    assert [_mail_with(key) for key in keys] == [0, 0, 0, 0, 1]
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.target_id == event.public_id,
        AuditEntry.subject_user_id.is_not(None))) == 0
    # Within the grace period, and without burn_after: untouched.
    assert _answers(recent) == 1 and recent.burned_at is None
    assert _answers(kept) == 1
    assert jobs.burn_events() == 0  # idempotent

    page = text(organiser(app, world).get(f"/events/{event.public_id}"))
    assert "After the event: 4 going, 1 checked in." in page
    assert "The answers to this event have been deleted." in page


def test_attendees_are_told_when_the_answers_go_in_their_language(app, world):
    starts = datetime(2099, 6, 1, 18, 0, tzinfo=UTC)
    event = make_event(world["hub"], starts_at=starts, ends_at=starts + timedelta(hours=2),
                       timezone="Europe/London", burn_after=True)
    plain = make_event(world["hub"], starts_at=starts)
    client = app.test_client()
    page = text(client.get(f"/events/{event.public_id}"))
    # Ends 21:00 London time (BST) on 1 June; the default grace is 24 hours.
    # In British English by default, with the event's zone named (issue 15).
    assert "Answers to this event are deleted on Tuesday, 2 June 2099, 21:00 BST" in page
    assert "Answers to this event are deleted" not in text(
        client.get(f"/events/{plain.public_id}"))
    page = text(client.get(f"/events/{event.public_id}",
                           headers={"Accept-Language": "zh-HK"}))
    assert "呢個活動嘅回覆會喺" in page


def test_an_event_already_burnt_cannot_take_burn_after_back(app, world):
    ended = utcnow() - timedelta(days=3)
    event = make_event(world["hub"], starts_at=ended - timedelta(hours=2), ends_at=ended,
                       burn_after=True)
    jobs.burn_events()
    response = post_edit(organiser(app, world), event, form_data(
        start_date=(ended - timedelta(hours=2)).strftime("%Y-%m-%d"),
        start_time=(ended - timedelta(hours=2)).strftime("%H:%M"),
        end_date=ended.strftime("%Y-%m-%d"), end_time=ended.strftime("%H:%M"),
        timezone="UTC"))
    assert response.status_code == 400  # the form, with its error
    assert "The answers to this event have already been deleted" in text(response)
    assert reload(event).burn_after


def test_the_command_burns_what_ended_and_says_how_much(app, world):
    """`flask burn-past-events`, as an operator runs it (README, Retention)."""
    ended = utcnow() - timedelta(days=2)
    event = make_event(world["hub"], starts_at=ended - timedelta(hours=2), ends_at=ended,
                       burn_after=True)
    for _ in range(2):
        make_rsvp(event, make_user())
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["burn-past-events"])
    assert result.exit_code == 0, result.output
    assert "Burnt 1 events: deleted 2 answers" in result.output
    db.session.expire_all()
    assert _answers(db.session.get(Event, event.id)) == 0
    again = app.test_cli_runner().invoke(args=["burn-past-events"])
    assert "Burnt 0 events" in again.output
