"""``GET /healthz`` for monitors and load balancers (DESIGN.md §7).

The answer is JSON with no personal data: whether the database answers,
whether its schema is at the migrations' head, how old the oldest unsent mail
is, how many tasks wait on the job queue (a count only: never a task's
arguments), and the version. 200 when healthy, 503 when not. It reads no session and
sets no cookie, so a monitor polling it leaves nothing behind.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from community.extensions import db

bp = Blueprint("health", __name__)


def app_version() -> str:
    """Harbour's version: ``community.__version__``, which setup.cfg reads too."""
    from community import __version__

    return __version__


def migration_heads() -> set[str]:
    config = current_app.extensions["migrate"].migrate.get_config()
    return set(ScriptDirectory.from_config(config).get_heads())


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def queue_report() -> dict:
    """The job queue's backlog: tasks waiting for a worker, and tasks scheduled
    for later (retries). A queue that does not answer is reported, not fatal:
    the site works without it and the periodic sweep catches up (jobs.enqueue)."""
    from community.jobs import jobs

    try:
        huey = jobs().huey
        return {"queue": "ok", "queue_backlog": int(huey.pending_count()),
                "queue_scheduled": int(huey.scheduled_count())}
    except Exception:  # noqa: BLE001 (a Redis or SQLite outage of the queue, whatever its type)
        current_app.logger.warning("health check: the job queue did not answer")
        return {"queue": "unreachable", "queue_backlog": None, "queue_scheduled": None}


def check() -> tuple[dict, bool]:
    """The health report and whether everything in it is healthy."""
    from community.outbox_models import OutboxEmail, OutboxStatus

    report: dict = {"version": app_version(), "database": "ok", "migrations": "unknown",
                    "oldest_unsent_mail_seconds": None}
    report.update(queue_report())
    # A connection of its own, outside the request's transaction: a failure
    # here leaves the request's session untouched.
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
            report["migrations"] = "current" if current == migration_heads() else "behind"
            oldest = connection.scalar(
                sa.select(sa.func.min(OutboxEmail.created_at))
                .where(OutboxEmail.status == OutboxStatus.PENDING))
        if oldest is not None:
            age = datetime.now(UTC) - _as_utc(oldest)
            report["oldest_unsent_mail_seconds"] = max(0, int(age.total_seconds()))
    except SQLAlchemyError:
        current_app.logger.warning("health check: the database did not answer")
        report["database"] = "unreachable"
    healthy = report["database"] == "ok" and report["migrations"] == "current"
    report["status"] = "ok" if healthy else "failing"
    return report, healthy


@bp.get("/healthz")
def healthz():
    report, healthy = check()
    response = jsonify(report)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
