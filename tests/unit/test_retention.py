"""Retention (R41, DESIGN §2 rule 6): past RSVPs lose their people, counts
stay; old audit entries go. Both jobs are idempotent."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from community import audit, retention
from community.admin.models import AuditEntry
from community.database import utcnow
from community.events.models import Rsvp, RsvpStatus
from community.extensions import db
from community.factories import make_event, make_rsvp, make_user


def rsvp_rows(event):
    return list(db.session.scalars(select(Rsvp).where(Rsvp.event_id == event.id)
                                   .execution_options(populate_existing=True)))


def test_rsvps_of_events_ended_long_ago_lose_their_people_but_keep_counts():
    start = utcnow() - timedelta(days=40)
    past = make_event(starts_at=start, ends_at=start + timedelta(hours=2))
    recent = make_event(starts_at=utcnow() - timedelta(days=3),
                        ends_at=utcnow() - timedelta(days=3) + timedelta(hours=2))
    people = [make_user() for _ in range(3)]
    make_rsvp(past, people[0], guests=2, note="I use a wheelchair")
    make_rsvp(past, people[1], status=RsvpStatus.WAITLISTED)
    make_rsvp(recent, people[2])

    assert retention.anonymise_past_rsvps(30) == 2
    rows = rsvp_rows(past)
    assert [r.user_id for r in rows] == [None, None]
    assert all(r.note == "" for r in rows)
    assert sorted((r.status.value, r.guests) for r in rows) == [("going", 2), ("waitlisted", 0)]
    assert rsvp_rows(recent)[0].user_id == people[2].id
    # No row links any of these people to the past event any more.
    assert db.session.scalar(select(func.count()).select_from(Rsvp).where(
        Rsvp.event_id == past.id, Rsvp.user_id.in_([p.id for p in people]))) == 0

    assert retention.anonymise_past_rsvps(30) == 0  # idempotent


def test_time_moves_on_and_the_recent_event_is_anonymised_too():
    ends = utcnow() - timedelta(days=1)
    event = make_event(starts_at=ends - timedelta(hours=2), ends_at=ends)
    make_rsvp(event, make_user())
    assert retention.anonymise_past_rsvps(30) == 0
    with time_machine.travel(utcnow() + timedelta(days=31), tick=False):
        assert retention.anonymise_past_rsvps(30) == 1
    assert [r.user_id for r in rsvp_rows(event)] == [None]
    assert len(rsvp_rows(event)) == 1


def test_old_audit_entries_are_pruned_idempotently():
    actor = make_user()
    old = audit.record(actor, "member.approve", "membership", "old")
    old.created_at = utcnow() - timedelta(days=200)
    audit.record(actor, "member.approve", "membership", "new")
    db.session.flush()
    assert retention.prune_audit(180) == 1
    assert retention.prune_audit(180) == 0
    assert list(db.session.scalars(select(AuditEntry.target_id))) == ["new"]
    with time_machine.travel(utcnow() + timedelta(days=181), tick=False):
        assert retention.prune_audit(180) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_cli_commands_use_config_defaults_show_progress_and_report(app, runner):
    start = utcnow() - timedelta(days=40)
    event = make_event(starts_at=start, ends_at=start + timedelta(hours=1))
    make_rsvp(event, make_user())
    result = runner.invoke(args=["anonymise-past-rsvps"])
    assert result.exit_code == 0, result.output
    assert "Anonymised 1 RSVPs" in result.output and "30 days" in result.output
    result = runner.invoke(args=["anonymise-past-rsvps", "--older-than", "5"])
    assert "Anonymised 0 RSVPs" in result.output
    assert runner.invoke(args=["anonymise-past-rsvps", "--older-than", "-1"]).exit_code != 0

    entry = audit.record(None, "member.approve", "membership", "x")
    entry.created_at = utcnow() - timedelta(days=10)
    db.session.flush()
    app.config["AUDIT_RETENTION_DAYS"] = 7
    try:
        result = runner.invoke(args=["prune-audit"])
    finally:
        del app.config["AUDIT_RETENTION_DAYS"]
    assert result.exit_code == 0, result.output
    assert "Deleted 1 audit entries older than 7 days." in result.output
