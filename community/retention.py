"""Retention jobs (DESIGN §2 rule 6, R41): forget who answered past events,
and prune old audit entries. Each is idempotent: a second run finds nothing.

    flask --app wsgi anonymise-past-rsvps [--older-than DAYS]
    flask --app wsgi prune-audit [--older-than DAYS]
    flask --app wsgi purge-unverified [--older-than DAYS]
    flask --app wsgi purge-sessions
    flask --app wsgi purge-mail
    flask --app wsgi purge-tokens
    flask --app wsgi purge-door-staff

Every table that can point at a person is covered: RSVPs and their check-ins
(anonymised; burnt outright for burn-after events, community.events.burn),
the outbox (blanked on delivery, deleted here), audit entries, sessions,
unverified accounts, used recovery codes, spent invites, and door-staff
assignments of events that are over. Each command then
scrubs the database file (``database.scrub_after_purge``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import click
from flask import Flask, current_app
from sqlalchemy import and_, delete, or_, select, update

from community.audit_models import AuditEntry
from community.auth.models import RecoveryCode, User, UserSession
from community.database import scrub_after_purge, utcnow
from community.events.burn import burn_past_events, grace_period
from community.events.door.models import DoorStaff
from community.events.models import Event, Rsvp
from community.extensions import db
from community.hubs.models import ChapterRole, Invite, MemberRole, Membership, MembershipStatus
from community.outbox_models import OutboxEmail, OutboxStatus

BATCH = 500
DEFAULT_RSVP_DAYS = 30
DEFAULT_AUDIT_DAYS = 180
DEFAULT_UNVERIFIED_DAYS = 7
DEFAULT_SENT_MAIL_DAYS = 7
DEFAULT_UNSENT_MAIL_DAYS = 3
# R41: used tokens go after 24 hours.
TOKEN_GRACE = timedelta(hours=24)
# The tables the jobs delete from, for scrub_after_purge.
PURGED_TABLES = ("rsvps", "audit_entries", "users", "user_sessions", "recovery_codes",
                 "memberships", "outbox_emails", "invites", "door_staff")

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


def _batches(ids: list[int]):
    for start in range(0, len(ids), BATCH):
        yield ids[start:start + BATCH]


def rsvps_to_anonymise(older_than_days: int, now: datetime | None = None) -> list[int]:
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    return list(db.session.scalars(
        select(Rsvp.id).join(Event, Rsvp.event_id == Event.id)
        .where(Rsvp.user_id.is_not(None), Event.ends_at < cutoff).order_by(Rsvp.id)))


def anonymise_rsvps(ids: list[int], progress: Progress | None = None) -> int:
    """Cut the link between people and these RSVPs; status and guests stay
    for counts, the note to organisers goes with the person."""
    done = 0
    for chunk in _batches(ids):
        db.session.execute(
            update(Rsvp).where(Rsvp.id.in_(chunk), Rsvp.user_id.is_not(None))
            .values(user_id=None, note=""),
            execution_options={"synchronize_session": False})
        done += len(chunk)
        if progress is not None:
            progress(len(chunk))
    return done


def anonymise_past_rsvps(older_than_days: int, now: datetime | None = None,
                         progress: Progress | None = None) -> int:
    return anonymise_rsvps(rsvps_to_anonymise(older_than_days, now), progress)


def audit_entries_to_prune(older_than_days: int, now: datetime | None = None) -> list[int]:
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    return list(db.session.scalars(
        select(AuditEntry.id).where(AuditEntry.created_at < cutoff).order_by(AuditEntry.id)))


def delete_rows(model, ids: list[int], progress: Progress | None = None) -> int:
    """Delete the rows of ``model`` with these ids, in batches; how many went."""
    done = 0
    for chunk in _batches(ids):
        result = db.session.execute(delete(model).where(model.id.in_(chunk)),
                                    execution_options={"synchronize_session": False})
        done += result.rowcount or 0
        if progress is not None:
            progress(len(chunk))
    return done


def delete_audit_entries(ids: list[int], progress: Progress | None = None) -> int:
    return delete_rows(AuditEntry, ids, progress)


def prune_audit(older_than_days: int, now: datetime | None = None,
                progress: Progress | None = None) -> int:
    return delete_audit_entries(audit_entries_to_prune(older_than_days, now), progress)


def unverified_to_purge(older_than_days: int, now: datetime | None = None) -> list[int]:
    """Accounts whose email was never confirmed, made more than DAYS ago."""
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    return list(db.session.scalars(
        select(User.id).where(User.email_verified_at.is_(None), User.created_at < cutoff)
        .order_by(User.id)))


def delete_unverified(ids: list[int], progress: Progress | None = None) -> int:
    """Delete these accounts (still unverified) and everything tied to them;
    mail queued to their address goes too."""
    done = 0
    for chunk in _batches(ids):
        still = select(User.id).where(User.id.in_(chunk), User.email_verified_at.is_(None))
        indexes = list(db.session.scalars(select(User.email_index).where(User.id.in_(still))))
        db.session.execute(delete(OutboxEmail).where(
            or_(OutboxEmail.user_id.in_(still), OutboxEmail.to_index.in_(indexes))),
            execution_options={"synchronize_session": False})
        for model in (Membership, ChapterRole, UserSession, RecoveryCode):
            db.session.execute(delete(model).where(model.user_id.in_(still)),
                               execution_options={"synchronize_session": False})
        result = db.session.execute(
            delete(User).where(User.id.in_(chunk), User.email_verified_at.is_(None)),
            execution_options={"synchronize_session": False})
        done += result.rowcount or 0
        if progress is not None:
            progress(len(chunk))
    return done


def purge_unverified(older_than_days: int = DEFAULT_UNVERIFIED_DAYS,
                     now: datetime | None = None, progress: Progress | None = None) -> int:
    return delete_unverified(unverified_to_purge(older_than_days, now), progress)


def _staff_ids(user_ids: set[int]) -> set[int]:
    """Which of these users get the staff session limits (as sessions.is_staff)."""
    if not user_ids:
        return set()
    ids = set(db.session.scalars(
        select(User.id).where(User.id.in_(user_ids), User.is_site_admin.is_(True))))
    ids |= set(db.session.scalars(select(Membership.user_id).where(
        Membership.user_id.in_(user_ids), Membership.status == MembershipStatus.ACTIVE,
        Membership.role.in_([MemberRole.ORGANISER, MemberRole.LEAD]))))
    ids |= set(db.session.scalars(
        select(ChapterRole.user_id).where(ChapterRole.user_id.in_(user_ids))))
    return ids


def _absolute_limit(remember: bool, staff: bool) -> timedelta:
    config = current_app.config
    if staff:
        return config["STAFF_SESSION_ABSOLUTE_TIMEOUT"]
    if remember:
        return config["PERMANENT_SESSION_LIFETIME"]
    return config["SESSION_ABSOLUTE_TIMEOUT"]


def sessions_to_purge(now: datetime | None = None) -> list[int]:
    """Sessions older than their absolute timeout (the same limits the
    sign-in check uses: staff, remembered or ordinary)."""
    now = now or utcnow()
    shortest = min(_absolute_limit(remember, staff)
                   for remember in (False, True) for staff in (False, True))
    candidates = list(db.session.execute(
        select(UserSession.id, UserSession.user_id, UserSession.remember,
               UserSession.created_at)
        .where(UserSession.created_at < now - shortest).order_by(UserSession.id)))
    staff = _staff_ids({user_id for _id, user_id, _r, _c in candidates})
    return [session_id for session_id, user_id, remember, created in candidates
            if now - created > _absolute_limit(remember, user_id in staff)]


def delete_sessions(ids: list[int], progress: Progress | None = None) -> int:
    return delete_rows(UserSession, ids, progress)


def purge_sessions(now: datetime | None = None, progress: Progress | None = None) -> int:
    return delete_sessions(sessions_to_purge(now), progress)


def purge_mail(sent_days: int = DEFAULT_SENT_MAIL_DAYS,
               unsent_days: int = DEFAULT_UNSENT_MAIL_DAYS,
               now: datetime | None = None) -> dict[str, int]:
    """Delivered mail: blank any row still holding content (delivered before
    blanking existed) and delete rows delivered more than ``sent_days`` ago.
    Mail still unsent, or given up, ``unsent_days`` after it was queued is
    past its retry window: deleted, with a log line that names no one."""
    now = now or utcnow()
    blanked = db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.status == OutboxStatus.SENT, OutboxEmail.to_address != "")
        .values(to_address="", to_index=None, subject="", body_text="", body_html="",
                extra_headers=""),
        execution_options={"synchronize_session": False}).rowcount or 0
    sent = db.session.execute(
        delete(OutboxEmail).where(OutboxEmail.status == OutboxStatus.SENT,
                                  OutboxEmail.sent_at < now - timedelta(days=sent_days)),
        execution_options={"synchronize_session": False}).rowcount or 0
    unsent = db.session.execute(
        delete(OutboxEmail).where(OutboxEmail.status != OutboxStatus.SENT,
                                  OutboxEmail.created_at < now - timedelta(days=unsent_days)),
        execution_options={"synchronize_session": False}).rowcount or 0
    if unsent:
        log.warning("dropped %d unsent emails queued more than %d days ago", unsent, unsent_days)
    return {"blanked": blanked, "sent": sent, "unsent": unsent}


def purge_tokens(now: datetime | None = None) -> dict[str, int]:
    """Used recovery codes, and invites revoked, expired or used up, 24 hours on (R41)."""
    cutoff = (now or utcnow()) - TOKEN_GRACE
    codes = db.session.execute(
        delete(RecoveryCode).where(RecoveryCode.used_at < cutoff),
        execution_options={"synchronize_session": False}).rowcount or 0
    invites = db.session.execute(
        delete(Invite).where(or_(
            Invite.revoked_at < cutoff,
            Invite.expires_at < cutoff,
            and_(Invite.max_uses.is_not(None), Invite.use_count >= Invite.max_uses,
                 Invite.created_at < cutoff))),
        execution_options={"synchronize_session": False}).rowcount or 0
    return {"recovery_codes": codes, "invites": invites}


def door_staff_to_purge(now: datetime | None = None) -> list[int]:
    """Door-staff assignments of events that ended more than the burn grace
    period (BURN_GRACE_PERIOD, 24 hours) ago: they grant nothing any more
    (permissions.door_staff_active) and only tie a person to an event."""
    cutoff = (now or utcnow()) - grace_period()
    return list(db.session.scalars(
        select(DoorStaff.id).join(Event, DoorStaff.event_id == Event.id)
        .where(Event.ends_at < cutoff).order_by(DoorStaff.id)))


def delete_door_staff(ids: list[int], progress: Progress | None = None) -> int:
    return delete_rows(DoorStaff, ids, progress)


def purge_door_staff(now: datetime | None = None, progress: Progress | None = None) -> int:
    """Delete door-staff assignments of ended events, with a log line that
    gives only the count (it names no one and no event)."""
    done = delete_door_staff(door_staff_to_purge(now), progress)
    if done:
        log.info("deleted %d door-staff assignments of events that ended more than %s ago",
                 done, grace_period())
    return done


def scrub(tables=PURGED_TABLES) -> None:
    """Call after the purge has committed; never raises (a busy file is scrubbed next time)."""
    try:
        if not scrub_after_purge(db.engine, tables):
            log.info("the database file is busy; scrubbing again after the next purge")
    except Exception:  # noqa: BLE001 (the purge itself is done and committed)
        log.warning("could not scrub the database after a purge", exc_info=True)


def _days(value: int | None, key: str, default: int) -> int:
    if value is not None:
        return value
    return int(current_app.config.get(key, default))


def init_cli(app: Flask) -> None:
    """Register `anonymise-past-rsvps`, `prune-audit`, `purge-unverified`,
    `purge-sessions`, `purge-mail`, `purge-tokens`, `purge-door-staff` and
    `burn-past-events`."""

    @app.cli.command("burn-past-events")
    def burn_command() -> None:
        """Delete the answers of burn-after events that ended (plus the grace period)."""
        done = burn_past_events(commit=True)
        db.session.commit()
        scrub(("rsvps", "outbox_emails", "audit_entries"))
        click.echo(f"Burnt {done.events} events: deleted {done.rsvps} answers and "
                   f"{done.emails} emails.")

    @app.cli.command("anonymise-past-rsvps")
    @click.option("--older-than", "days", type=click.IntRange(min=0), default=None,
                  metavar="DAYS",
                  help="Events that ended more than DAYS ago "
                       "(default: RSVP_RETENTION_DAYS, 30).")
    def anonymise_command(days: int | None) -> None:
        """Remove the link between people and RSVPs of past events; counts stay."""
        days = _days(days, "RSVP_RETENTION_DAYS", DEFAULT_RSVP_DAYS)
        ids = rsvps_to_anonymise(days)
        with click.progressbar(length=len(ids), label="Anonymising RSVPs") as bar:
            done = anonymise_rsvps(ids, bar.update)
        db.session.commit()
        scrub()
        click.echo(f"Anonymised {done} RSVPs of events that ended more than {days} days ago.")

    @app.cli.command("prune-audit")
    @click.option("--older-than", "days", type=click.IntRange(min=0), default=None,
                  metavar="DAYS",
                  help="Delete audit entries older than DAYS "
                       "(default: AUDIT_RETENTION_DAYS, 180).")
    def prune_command(days: int | None) -> None:
        """Delete audit entries older than the retention period."""
        days = _days(days, "AUDIT_RETENTION_DAYS", DEFAULT_AUDIT_DAYS)
        ids = audit_entries_to_prune(days)
        with click.progressbar(length=len(ids), label="Pruning the audit log") as bar:
            done = delete_audit_entries(ids, bar.update)
        db.session.commit()
        scrub()
        click.echo(f"Deleted {done} audit entries older than {days} days.")

    @app.cli.command("purge-unverified")
    @click.option("--older-than", "days", type=click.IntRange(min=0), default=None,
                  metavar="DAYS",
                  help="Accounts made more than DAYS ago and never confirmed "
                       "(default: UNVERIFIED_RETENTION_DAYS, 7).")
    def purge_unverified_command(days: int | None) -> None:
        """Delete accounts whose email address was never confirmed."""
        days = _days(days, "UNVERIFIED_RETENTION_DAYS", DEFAULT_UNVERIFIED_DAYS)
        ids = unverified_to_purge(days)
        with click.progressbar(length=len(ids), label="Deleting unverified accounts") as bar:
            done = delete_unverified(ids, bar.update)
        db.session.commit()
        scrub()
        click.echo(f"Deleted {done} unverified accounts older than {days} days.")

    @app.cli.command("purge-sessions")
    def purge_sessions_command() -> None:
        """Delete sessions past their absolute timeout."""
        ids = sessions_to_purge()
        with click.progressbar(length=len(ids), label="Deleting expired sessions") as bar:
            done = delete_sessions(ids, bar.update)
        db.session.commit()
        scrub()
        click.echo(f"Deleted {done} expired sessions.")

    @app.cli.command("purge-mail")
    def purge_mail_command() -> None:
        """Delete delivered mail after SENT_MAIL_RETENTION_DAYS and unsent mail after
        UNSENT_MAIL_RETENTION_DAYS."""
        config = current_app.config
        done = purge_mail(int(config.get("SENT_MAIL_RETENTION_DAYS", DEFAULT_SENT_MAIL_DAYS)),
                          int(config.get("UNSENT_MAIL_RETENTION_DAYS",
                                         DEFAULT_UNSENT_MAIL_DAYS)))
        db.session.commit()
        scrub()
        click.echo(f"Deleted {done['sent']} delivered and {done['unsent']} unsent emails; "
                   f"blanked {done['blanked']}.")

    @app.cli.command("purge-tokens")
    def purge_tokens_command() -> None:
        """Delete used recovery codes and spent invites (24 hours on)."""
        done = purge_tokens()
        db.session.commit()
        scrub()
        click.echo(f"Deleted {done['recovery_codes']} used recovery codes and "
                   f"{done['invites']} spent invites.")

    @app.cli.command("purge-door-staff")
    def purge_door_staff_command() -> None:
        """Delete door-staff assignments of events that ended more than
        BURN_GRACE_PERIOD (24 hours) ago."""
        ids = door_staff_to_purge()
        with click.progressbar(length=len(ids), label="Deleting door-staff assignments") as bar:
            done = delete_door_staff(ids, bar.update)
        db.session.commit()
        scrub(("door_staff",))
        click.echo(f"Deleted {done} door-staff assignments of events that have ended.")
