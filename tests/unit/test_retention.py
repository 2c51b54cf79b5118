"""Retention (R41, DESIGN §2 rule 6): past RSVPs lose their people, counts
stay; old audit entries go. Both jobs are idempotent."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import time_machine
from sqlalchemy import func, select

from community import audit, retention
from community.audit_models import AuditEntry
from community.database import utcnow
from community.encryption import blind_index
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
    assert "Anonymising RSVPs" in result.output  # click's progress bar
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


# --- unverified accounts and expired sessions (R41) -------------------------------

def _session(user, created_at, remember=False):
    import secrets

    from community.auth.models import UserSession
    from community.auth.sessions import hash_token

    record = UserSession(user=user, token_hash=hash_token(secrets.token_urlsafe(32)),
                         device_label="test", last_seen_at=created_at, remember=remember)
    db.session.add(record)
    db.session.flush()
    record.created_at = created_at
    db.session.flush()
    return record


def _users() -> set[int]:
    from community.auth.models import User

    return set(db.session.scalars(select(User.id)))


def test_unverified_accounts_go_after_seven_days_idempotently():
    from community.auth.models import User
    from community.outbox_models import OutboxEmail

    stale = make_user("stale@example.org", verified=False)
    fresh = make_user(verified=False)
    confirmed = make_user()
    _session(stale, utcnow())
    db.session.add(OutboxEmail(to_address="stale@example.org", subject="Confirm",
                               body_text="x", user_id=None))
    db.session.flush()
    for user in (stale, confirmed):
        user.created_at = utcnow() - timedelta(days=8)
    db.session.flush()

    assert retention.purge_unverified(7) == 1
    assert stale.id not in _users() and {fresh.id, confirmed.id} <= _users()
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail).where(
        OutboxEmail.to_index == blind_index("stale@example.org"))) == 0
    assert retention.purge_unverified(7) == 0  # idempotent
    with time_machine.travel(utcnow() + timedelta(days=8), tick=False):
        assert retention.purge_unverified(7) == 1
    assert fresh.id not in _users()
    assert db.session.get(User, confirmed.id) is not None


def test_sessions_past_their_absolute_timeout_go(app):
    from community.auth.models import UserSession
    from community.factories import make_hub, make_membership
    from community.hubs.models import MemberRole

    member, organiser = make_user(), make_user()
    make_membership(organiser, make_hub(), MemberRole.ORGANISER)
    now = utcnow()
    old_member = _session(member, now - timedelta(hours=13))      # past 12 h
    live_member = _session(member, now - timedelta(hours=9))      # within 12 h
    old_staff = _session(organiser, now - timedelta(hours=9))     # past staff 8 h
    remembered = _session(member, now - timedelta(days=13), remember=True)  # within 14 d

    ids = lambda: set(db.session.scalars(select(UserSession.id)))  # noqa: E731
    assert retention.purge_sessions() == 2
    assert {live_member.id, remembered.id} <= ids()
    assert not {old_member.id, old_staff.id} & ids()
    assert retention.purge_sessions() == 0  # idempotent
    with time_machine.travel(now + timedelta(days=2), tick=False):
        assert retention.purge_sessions() == 2
    assert not {live_member.id, remembered.id} & ids()


def test_purge_commands_show_progress_and_report(app, runner):
    user = make_user(verified=False)
    user.created_at = utcnow() - timedelta(days=10)
    _session(make_user(), utcnow() - timedelta(days=1))
    db.session.flush()
    result = runner.invoke(args=["purge-unverified", "--older-than", "30"])
    assert result.exit_code == 0, result.output
    assert "Deleted 0 unverified accounts older than 30 days." in result.output
    result = runner.invoke(args=["purge-unverified"])
    assert "Deleted 1 unverified accounts older than 7 days." in result.output
    assert runner.invoke(args=["purge-unverified", "--older-than", "-2"]).exit_code != 0
    result = runner.invoke(args=["purge-sessions"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 expired sessions." in result.output
    assert "Deleting expired sessions" in result.output  # click's progress bar
    assert "Deleted 0 expired sessions." in runner.invoke(args=["purge-sessions"]).output


def _mail(address: str, **kw):
    from community.outbox_models import OutboxEmail

    email = OutboxEmail(to_address=address, subject="Reminder: picnic", body_text="Bring tea",
                        **kw)
    db.session.add(email)
    db.session.flush()
    return email


def test_mail_is_deleted_after_delivery_and_unsent_mail_after_its_retry_window(caplog):
    from community.outbox_models import OutboxEmail, OutboxStatus

    now = utcnow()
    old_sent = _mail("a@example.org", status=OutboxStatus.SENT, sent_at=now - timedelta(days=8))
    # Delivered before blanking existed: still holds its content.
    new_sent = _mail("b@example.org", status=OutboxStatus.SENT, sent_at=now - timedelta(days=1))
    stale = _mail("c@example.org", created_at=now - timedelta(days=4))
    gave_up = _mail("d@example.org", status=OutboxStatus.FAILED,
                    created_at=now - timedelta(days=4))
    waiting = _mail("e@example.org", created_at=now - timedelta(hours=2))

    with caplog.at_level("WARNING", logger="community.retention"):
        done = retention.purge_mail(7, 3, now=now)
    assert done == {"blanked": 2, "sent": 1, "unsent": 2}
    left = {row.id: row for row in db.session.scalars(
        select(OutboxEmail).execution_options(populate_existing=True))}
    assert set(left) >= {new_sent.id, waiting.id}
    assert not {old_sent.id, stale.id, gave_up.id} & set(left)
    assert (left[new_sent.id].to_address, left[new_sent.id].subject,
            left[new_sent.id].body_text) == ("", "", "")
    assert left[waiting.id].to_address == "e@example.org"
    assert "dropped 2 unsent emails" in caplog.text and "@" not in caplog.text
    assert retention.purge_mail(7, 3, now=now) == {"blanked": 0, "sent": 0, "unsent": 0}


def test_used_recovery_codes_and_spent_invites_go_after_a_day():
    from community.auth.models import RecoveryCode
    from community.factories import make_hub
    from community.hubs.models import Invite

    user = make_user()
    hub = make_hub()
    now = utcnow()
    used = RecoveryCode(user_id=user.id, code_hash="x", used_at=now - timedelta(days=2))
    fresh_use = RecoveryCode(user_id=user.id, code_hash="y", used_at=now - timedelta(hours=2))
    unused = RecoveryCode(user_id=user.id, code_hash="z")
    invites = [Invite(hub_id=hub.id, token_hash=f"{n:064d}", **kw) for n, kw in enumerate([
        {"revoked_at": now - timedelta(days=2)},
        {"expires_at": now - timedelta(days=2)},
        {"max_uses": 1, "use_count": 1, "created_at": now - timedelta(days=2)},
        {"expires_at": now + timedelta(days=2)},
        {"revoked_at": now - timedelta(hours=1)},
        {"max_uses": 3, "use_count": 1, "created_at": now - timedelta(days=2)},
    ])]
    db.session.add_all([used, fresh_use, unused, *invites])
    db.session.flush()

    assert retention.purge_tokens(now=now) == {"recovery_codes": 1, "invites": 3}
    assert set(db.session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id))) == {fresh_use.id, unused.id}
    assert set(db.session.scalars(select(Invite.id).where(Invite.hub_id == hub.id))) == {
        invites[3].id, invites[4].id, invites[5].id}
    assert retention.purge_tokens(now=now) == {"recovery_codes": 0, "invites": 0}


def test_purge_mail_and_tokens_commands_report(app, runner):
    result = runner.invoke(args=["purge-mail"])
    assert result.exit_code == 0, result.output
    assert "delivered and" in result.output
    result = runner.invoke(args=["purge-tokens"])
    assert result.exit_code == 0, result.output
    assert "used recovery codes" in result.output
    result = runner.invoke(args=["purge-door-staff"])
    assert result.exit_code == 0, result.output
    assert "Deleted 0 door-staff assignments of events that have ended." in result.output


def test_sqlite_connections_delete_securely(app):
    if db.engine.dialect.name != "sqlite":
        return
    assert db.session.execute(sa.text("PRAGMA secure_delete")).scalar_one() == 1
