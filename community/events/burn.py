"""Burn after the event (issue 13): BURN_GRACE_PERIOD after an event with
``burn_after`` ends, its RSVPs (check-ins with them), the mail to its
attendees (confirmations, waiting-list moves, reminders, organisers'
messages, cancellation notices) and the audit entries naming its attendees
are hard-deleted. The counts stay on the event as plain numbers for the
organisers' history. Run hourly by the queue (community.jobs) and by

    flask --app wsgi burn-past-events
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import delete, or_, select

from community.audit_models import AuditEntry
from community.database import escape_like, utcnow
from community.events.models import Event, Rsvp, RsvpStatus
from community.extensions import db
from community.outbox_models import OutboxEmail

DEFAULT_GRACE = timedelta(hours=24)


@dataclass
class Burnt:
    events: int = 0
    rsvps: int = 0
    emails: int = 0


def grace_period() -> timedelta:
    grace = current_app.config.get("BURN_GRACE_PERIOD", DEFAULT_GRACE)
    return grace if isinstance(grace, timedelta) else timedelta(hours=float(grace))


def burn_date(event: Event) -> datetime:
    """When this event's answers are deleted (if it burns)."""
    return event.ends_at + grace_period()


def events_to_burn(now: datetime | None = None) -> list[int]:
    cutoff = (now or utcnow()) - grace_period()
    return list(db.session.scalars(
        select(Event.id).where(Event.burn_after.is_(True), Event.burned_at.is_(None),
                               Event.ends_at < cutoff).order_by(Event.id)))


def _prefix(text: str):
    return escape_like(text) + "%"


def burn_event(event: Event, now: datetime | None = None) -> Burnt:
    """Keep the counts, then delete everything that says who came."""
    rsvps = list(db.session.execute(
        select(Rsvp.public_id, Rsvp.status, Rsvp.guests, Rsvp.checked_in_at)
        .where(Rsvp.event_id == event.id)))
    event.final_going_count = sum(1 + guests for _p, status, guests, _c in rsvps
                                  if status is RsvpStatus.GOING)
    event.final_checked_in_count = sum(1 for *_rest, checked in rsvps if checked is not None)
    answer_ids = [public_id for public_id, *_rest in rsvps]

    mail = [OutboxEmail.dedupe_key.like(_prefix(f"{kind}:{event.public_id}:"), escape="\\")
            for kind in ("reminder", "cancel")]
    for start in range(0, len(answer_ids), 200):
        chunk = answer_ids[start:start + 200]
        mail.append(OutboxEmail.dedupe_key.in_(
            [f"{kind}:{public_id}" for public_id in chunk for kind in ("going", "waitlist")]))
        mail.extend(OutboxEmail.dedupe_key.like(_prefix(f"organiser-message:{public_id}:"),
                                                escape="\\") for public_id in chunk)
    emails = 0
    for start in range(0, len(mail), 100):
        emails += db.session.execute(
            delete(OutboxEmail).where(or_(*mail[start:start + 100])),
            execution_options={"synchronize_session": False}).rowcount or 0

    # Audit entries that name an attendee of this event: the per-person lines
    # of attendee-list openings, and changes to their answers.
    about = [(AuditEntry.target_type == "event") & (AuditEntry.target_id == event.public_id)]
    for start in range(0, len(answer_ids), 500):
        about.append((AuditEntry.target_type == "rsvp")
                     & AuditEntry.target_id.in_(answer_ids[start:start + 500]))
    db.session.execute(delete(AuditEntry).where(AuditEntry.subject_user_id.is_not(None),
                                                or_(*about)),
                       execution_options={"synchronize_session": False})

    deleted = db.session.execute(
        delete(Rsvp).where(Rsvp.event_id == event.id),
        execution_options={"synchronize_session": False}).rowcount or 0
    event.burned_at = now or utcnow()
    db.session.flush()
    return Burnt(events=1, rsvps=deleted, emails=emails)


def burn_past_events(now: datetime | None = None, commit: bool = False) -> Burnt:
    """Burn every event that is due; with ``commit``, one transaction per event."""
    total = Burnt()
    for event_id in events_to_burn(now):
        event = db.session.get(Event, event_id)
        if event is None or event.burned_at is not None:
            continue
        done = burn_event(event, now)
        total.events += 1
        total.rsvps += done.rsvps
        total.emails += done.emails
        if commit:
            db.session.commit()
    return total


def init_app(app: Flask) -> None:
    """Register the templates' ``burn_date`` (the command, `burn-past-events`, is
    with the other purges in ``community.retention``)."""
    app.add_template_global(burn_date, "burn_date")
