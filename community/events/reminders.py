"""Reminders before events: `flask --app wsgi send-reminders`, safe to run from cron
as often as you like (each person gets one reminder per event)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from community.auth.models import User
from community.database import utcnow
from community.events import services
from community.events.models import Event, EventStatus, Rsvp, RsvpStatus
from community.extensions import db

DEFAULT_WINDOW = timedelta(hours=24)


def reminder_key(event: Event, user: User) -> str:
    """The outbox dedupe key that makes reminders idempotent."""
    return f"reminder:{event.public_id}:{user.public_id}"


def answers_to_remind(*, now: datetime | None = None,
                      window: timedelta = DEFAULT_WINDOW) -> list[Rsvp]:
    """RSVPs "going" of confirmed attendees (reminders on, verified, not disabled)
    to published events starting within ``window`` from ``now``."""
    now = now or utcnow()
    return list(db.session.scalars(
        select(Rsvp).join(Rsvp.event).join(Rsvp.user)
        .options(joinedload(Rsvp.event).joinedload(Event.hub), joinedload(Rsvp.user))
        .where(Rsvp.status == RsvpStatus.GOING, Event.status == EventStatus.PUBLISHED,
               Event.starts_at > now, Event.starts_at <= now + window,
               User.notify_reminders.is_(True), User.email_verified_at.is_not(None),
               User.disabled_at.is_(None))
        .order_by(Event.starts_at, Event.id, Rsvp.id)
    ))


def send_reminders(*, now: datetime | None = None, window: timedelta = DEFAULT_WINDOW,
                   answers: list[Rsvp] | None = None,
                   progress: Callable[[int], None] | None = None) -> int:
    """Queue a reminder for every confirmed attendee (RSVP going, reminders on,
    verified and not disabled) of a published event starting within ``window``
    from ``now`` (or for ``answers``). Returns how many emails were queued;
    people reminded before are skipped through the outbox's dedupe key. The
    caller commits.

    The email holds the title, time and a link only, never a place (R44), in the
    recipient's language. Raises jinja2.TemplateNotFound if a template is missing.
    """
    from community.mail import queue_templated_email
    from community.security import absolute_url

    if answers is None:
        answers = answers_to_remind(now=now, window=window)
    queued = 0
    for answer in answers:
        if progress is not None:
            progress(1)
        event, person = answer.event, answer.user
        # Someone who can no longer see the event (left a members-only hub) is not reminded.
        if not services.can_view(event, services.viewer_for(event, person)):
            continue
        email = queue_templated_email(
            to_address=person.email, locale=person.locale, template="event_reminder",
            user_id=person.id, display_name=person.display_name, event=event,
            event_url=absolute_url("events.detail", public_id=event.public_id),
            dedupe_key=reminder_key(event, person),
        )
        if email is not None:
            queued += 1
    return queued


def init_cli(app: Flask) -> None:
    """Register `flask --app wsgi send-reminders`."""

    @app.cli.command("send-reminders")
    @click.option("--hours", type=click.FloatRange(min=0, min_open=True), default=None,
                  help="Remind about events starting within this many hours "
                       "[default: REMINDER_WINDOW_HOURS or 24].")
    def send_reminders_command(hours: float | None) -> None:
        """Queue reminder emails for events starting soon (idempotent; cron-friendly)."""
        if hours is None:
            hours = float(app.config.get("REMINDER_WINDOW_HOURS", 24))
        answers = answers_to_remind(window=timedelta(hours=hours))
        with click.progressbar(length=len(answers), label="Writing reminders") as bar:
            queued = send_reminders(answers=answers, progress=bar.update)
        db.session.commit()
        click.echo(f"{queued} reminder(s) queued.")
