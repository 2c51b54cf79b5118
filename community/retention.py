"""Retention jobs (DESIGN §2 rule 6, R41): forget who answered past events,
and prune old audit entries. Both are idempotent: a second run finds nothing.

    flask --app wsgi anonymise-past-rsvps [--older-than DAYS]
    flask --app wsgi prune-audit [--older-than DAYS]
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import click
from flask import Flask, current_app
from sqlalchemy import delete, select, update

from community.admin.models import AuditEntry
from community.database import utcnow
from community.events.models import Event, Rsvp
from community.extensions import db

BATCH = 500
DEFAULT_RSVP_DAYS = 30
DEFAULT_AUDIT_DAYS = 180

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


def delete_audit_entries(ids: list[int], progress: Progress | None = None) -> int:
    done = 0
    for chunk in _batches(ids):
        db.session.execute(delete(AuditEntry).where(AuditEntry.id.in_(chunk)),
                           execution_options={"synchronize_session": False})
        done += len(chunk)
        if progress is not None:
            progress(len(chunk))
    return done


def prune_audit(older_than_days: int, now: datetime | None = None,
                progress: Progress | None = None) -> int:
    return delete_audit_entries(audit_entries_to_prune(older_than_days, now), progress)


def _days(value: int | None, key: str, default: int) -> int:
    if value is not None:
        return value
    return int(current_app.config.get(key, default))


def init_cli(app: Flask) -> None:
    """Register `anonymise-past-rsvps` and `prune-audit`."""

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
        click.echo(f"Deleted {done} audit entries older than {days} days.")
