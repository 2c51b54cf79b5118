"""The job queue: Huey, configured from the app, and the work it does.

Storage: ``SqliteHuey`` in the instance folder by default (nothing else to
start), ``RedisHuey`` when ``HUEY_REDIS_URL`` is set (production, several
workers on several hosts), an in-memory queue for tests (``HUEY_STORAGE =
"memory"``), or ``HUEY_IMMEDIATE`` to run every task at once in the caller.

Tasks run inside the Flask app context and commit themselves (a worker is
not a request). The transactional outbox stays: a change writes its
``OutboxEmail`` or ``Publication`` rows in its own transaction; the queue only
does the work that follows, and every task is safe to run again, because the
outbox's dedupe keys make each email exist once.

`flask --app wsgi worker` runs the consumer with the schedule below; no cron
is needed.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import click
from flask import Flask, current_app, has_app_context
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.exceptions import TaskLockedException
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from community.extensions import db

log = logging.getLogger(__name__)

EXTENSION = "harbour_jobs"
DRAIN_BATCH = 200
# name -> crontab arguments (UTC). The worker runs each when its time comes.
SCHEDULE: dict[str, dict[str, str]] = {
    "drain_outbox": {},  # every minute: mail that is due, retries included
    "sweep_publications": {"minute": "*/5"},  # fan-outs whose enqueue was lost
    "send_reminders": {"minute": "5"},  # hourly
    "send_digest": {"day_of_week": "1", "hour": "8", "minute": "0"},  # Mondays
    "retention": {"hour": "3", "minute": "30"},  # daily
    "burn_events": {"minute": "20"},  # hourly: answers of burn-after events that ended
}


@dataclass
class Jobs:
    """The app's Huey instance and its tasks by name."""

    huey: Huey
    tasks: dict[str, Any] = field(default_factory=dict)


def make_huey(app: Flask) -> Huey:
    config = app.config
    name = config.get("HUEY_NAME", "harbour")
    if config.get("HUEY_IMMEDIATE"):
        return MemoryHuey(name, immediate=True)
    storage = config.get("HUEY_STORAGE") or (
        "redis" if config.get("HUEY_REDIS_URL") else "sqlite")
    if storage == "redis":
        return RedisHuey(name, url=config["HUEY_REDIS_URL"])
    if storage == "memory":
        return MemoryHuey(name)
    if storage != "sqlite":
        raise ValueError(f"HUEY_STORAGE must be sqlite, redis or memory, not {storage!r}")
    path = config.get("HUEY_SQLITE_PATH") or os.path.join(app.instance_path, "huey.sqlite")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return SqliteHuey(name, filename=path)


def jobs(app: Flask | None = None) -> Jobs:
    return (app or current_app).extensions[EXTENSION]


def _in_app(app: Flask, func: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``func`` in an app context of its own; roll back whatever it left
    uncommitted when it fails (Huey then retries it)."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        with app.app_context():
            try:
                return func(*args, **kwargs)
            except BaseException:
                db.session.rollback()
                raise

    return run


# --- the work ------------------------------------------------------------------------

def drain_outbox() -> int:
    """Send every email that is due; returns how many were sent. On SQLite (no
    row locks) one drain runs at a time; on PostgreSQL workers share the work."""
    from community.mail import send_pending

    def drain(spread: bool = False) -> int:
        sent = 0
        while True:
            report = send_pending(limit=DRAIN_BATCH)
            sent += report.sent
            if report.attempted < DRAIN_BATCH:
                return sent
            if spread:
                # More is waiting: ask one more idle worker to help (PostgreSQL's
                # SKIP LOCKED keeps them apart); it stops when nothing is due.
                enqueue("drain_outbox")
                spread = False

    if db.engine.dialect.name == "postgresql":
        return drain(spread=True)
    try:
        with jobs().huey.lock_task("drain-outbox"):
            return drain()
    except TaskLockedException:
        return 0  # another worker is draining


def fan_out_publication(publication_id: int) -> int:
    from community.notifications import fan_out

    queued = fan_out(publication_id)
    if queued:
        enqueue("drain_outbox")
    return queued


def sweep_publications() -> int:
    """Fan out any publication not finished (a lost enqueue, a crashed worker)."""
    from community.notifications import fan_out, pending_publications

    queued = sum(fan_out(publication_id) for publication_id in pending_publications())
    if queued:
        enqueue("drain_outbox")
    return queued


def send_reminders() -> int:
    from community.events.reminders import send_reminders as queue_reminders
    from community.transaction import immediate

    with immediate():
        hours = float(current_app.config.get("REMINDER_WINDOW_HOURS", 24))
        queued = queue_reminders(window=timedelta(hours=hours))
        db.session.commit()
    return queued


def send_digest() -> int:
    from community.notifications import send_digests
    from community.transaction import immediate

    with immediate():
        queued = send_digests()
        db.session.commit()
    return queued


def retention() -> dict[str, int]:
    """Everything the retention commands do, with their configured periods."""
    from community import retention as r
    from community.transaction import immediate

    config = current_app.config
    with immediate():
        done = {
            "rsvps": r.anonymise_rsvps(r.rsvps_to_anonymise(
                int(config.get("RSVP_RETENTION_DAYS", r.DEFAULT_RSVP_DAYS)))),
            "audit": r.delete_audit_entries(r.audit_entries_to_prune(
                int(config.get("AUDIT_RETENTION_DAYS", r.DEFAULT_AUDIT_DAYS)))),
            "unverified": r.delete_unverified(r.unverified_to_purge(
                int(config.get("UNVERIFIED_RETENTION_DAYS", r.DEFAULT_UNVERIFIED_DAYS)))),
            "sessions": r.purge_sessions(),
            **{f"mail_{k}": v for k, v in r.purge_mail(
                int(config.get("SENT_MAIL_RETENTION_DAYS", r.DEFAULT_SENT_MAIL_DAYS)),
                int(config.get("UNSENT_MAIL_RETENTION_DAYS", r.DEFAULT_UNSENT_MAIL_DAYS)),
            ).items()},
            **r.purge_tokens(),
            "door_staff": r.purge_door_staff(),
        }
        db.session.commit()
    r.scrub()
    return done


def burn_events() -> int:
    """Burn-after events past their end and grace period (community.events.burn)."""
    from community.events.burn import burn_past_events
    from community.retention import scrub
    from community.transaction import immediate

    with immediate():
        done = burn_past_events(commit=True)
        db.session.commit()
    if done.events:
        scrub(("rsvps", "outbox_emails", "audit_entries"))
    return done.events


# --- enqueueing ----------------------------------------------------------------------

def enqueue(name: str, *args) -> bool:
    """Put a task on the queue; never raises (the periodic tasks catch up on
    anything a broken queue loses). Returns whether it was queued."""
    try:
        jobs().tasks[name](*args)
    except Exception:  # noqa: BLE001 (a queue outage must not break the caller)
        log.warning("could not enqueue %s", name, exc_info=True)
        return False
    return True


def enqueue_fan_out(publication_id: int) -> None:
    """The after-commit step of a publication (community.notifications.announce)."""
    enqueue("fan_out_publication", publication_id)


def _note_new_mail(session: Session, _context) -> None:
    if any(type(obj).__name__ == "OutboxEmail" for obj in session.new):
        session.info["harbour_new_mail"] = True


def _drain_after_commit(session: Session) -> None:
    """A transaction that queued mail asks a worker to send it now, rather
    than at the next minute's drain."""
    if not session.info.pop("harbour_new_mail", False) or not has_app_context():
        return
    registered = current_app.extensions.get(EXTENSION)
    if registered is None or registered.huey.immediate or _IN_TASK.get():
        return
    enqueue("drain_outbox")


def _note_rollback(session: Session) -> None:
    session.info.pop("harbour_new_mail", None)


_IN_TASK: contextvars.ContextVar[bool] = contextvars.ContextVar("harbour_in_task",
                                                                default=False)


def _as_task(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def run(*args, **kwargs):
        token = _IN_TASK.set(True)
        try:
            return func(*args, **kwargs)
        finally:
            _IN_TASK.reset(token)

    return run


# --- setup -----------------------------------------------------------------------------

def register_tasks(app: Flask, huey: Huey) -> dict[str, Any]:
    work = {
        "drain_outbox": drain_outbox,
        "fan_out_publication": fan_out_publication,
        "sweep_publications": sweep_publications,
        "send_reminders": send_reminders,
        "send_digest": send_digest,
        "retention": retention,
        "burn_events": burn_events,
    }
    tasks: dict[str, Any] = {}
    for name, func in work.items():
        wrapped = _in_app(app, _as_task(func))
        options = {"retries": 5, "retry_delay": 30, "name": name}
        if name in SCHEDULE:
            tasks[name] = huey.periodic_task(crontab(**SCHEDULE[name]), **options)(wrapped)
        else:
            tasks[name] = huey.task(**options)(wrapped)
    return tasks


def init_app(app: Flask) -> None:
    huey = make_huey(app)
    app.extensions[EXTENSION] = Jobs(huey=huey, tasks=register_tasks(app, huey))
    if not getattr(Session, "_harbour_jobs_listening", False):
        sa_event.listen(Session, "after_flush", _note_new_mail)
        sa_event.listen(Session, "after_commit", _drain_after_commit)
        sa_event.listen(Session, "after_rollback", _note_rollback)
        Session._harbour_jobs_listening = True  # type: ignore[attr-defined]

    @app.cli.command("worker")
    @click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
                  help="Worker threads.")
    @click.option("--no-schedule", is_flag=True,
                  help="Do not run the periodic tasks (another worker runs them).")
    def worker_command(workers: int, no_schedule: bool) -> None:
        """Run the job queue's consumer: mail, publication fan-outs, and the
        schedule (reminders, digest, retention). Stop with Ctrl-C or SIGTERM."""
        if not logging.getLogger().handlers:
            # Huey's own lines (a task's traceback) as JSON lines too, scrubbed
            # like the app's (community.logs).
            from community.logs import json_formatter

            handler = logging.StreamHandler()
            handler.setFormatter(json_formatter())
            logging.basicConfig(level=logging.INFO, handlers=[handler])
            # The app's own lines have their handler already: not twice.
            app.logger.propagate = False
        consumer = huey.create_consumer(workers=workers, worker_type="thread",
                                        periodic=not no_schedule)
        click.echo(f"Harbour worker: {workers} thread(s) on {type(huey).__name__}"
                   + ("" if no_schedule else ", with the schedule"))
        consumer.run()
