"""Emails to members when their hubs publish something, the weekly digest that
gathers them instead, and one-click unsubscribe (RFC 8058).

Publishing calls ``announce``: one small ``Publication`` row in the publisher's
transaction, and the fan-out enqueued on the job queue once that transaction
commits (``community.jobs``). The fan-out task (``fan_out``) then writes one
email per member per publication through ``notify_update_published`` and
``notify_event_published``, idempotent through the outbox's dedupe keys;
``send_digests`` queues at most one digest per member per ISO week; ``bp``
holds the unsubscribe pages and ``init_cli`` registers `flask --app wsgi send-digest`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

import click
from flask import Blueprint, Flask, current_app, render_template
from flask_babel import force_locale
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import escape
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from community.auth.models import User
from community.database import is_public_id, utcnow
from community.events.models import Audience, Event, EventStatus
from community.extensions import csrf, db
from community.hubs.models import Hub, HubStatus, Membership, MembershipStatus
from community.mail import (
    InvalidRecipient,
    insert_emails,
    outbox_row,
    queue_templated_email,
    render_email,
    taken_dedupe_keys,
)
from community.outbox_models import OutboxEmail, Publication
from community.security import absolute_url
from community.transaction import after_commit, immediate
from community.updates.models import Update, UpdateStatus

UNSUBSCRIBE_SALT = "harbour:unsubscribe"
# The kinds of email a link can turn off, and the setting each one clears.
KIND_SETTINGS = {"events": "notify_events", "updates": "notify_updates",
                 "digest": "weekly_digest"}
# A digest never reaches further back than this, even after weeks without one.
DIGEST_LOOKBACK = timedelta(days=28)
DIGEST_FIRST_WINDOW = timedelta(days=7)
DIGEST_MAX_ITEMS = 50
# Invite-only events are for the people invited, so they are never announced.
ANNOUNCED_AUDIENCES = (Audience.PUBLIC, Audience.MEMBERS)

bp = Blueprint("notifications", __name__)


# --- unsubscribe tokens -------------------------------------------------------------

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(user: User, kind: str) -> str:
    """A signed token that turns ``kind`` off for ``user``. Raises ValueError for
    an unknown kind. It never expires: an old email's link must still work."""
    if kind not in KIND_SETTINGS:
        raise ValueError(f"unknown notification kind {kind!r}")
    return _serializer().dumps({"u": user.public_id, "k": kind})


def _signed_claim(token: str) -> tuple[str, str] | None:
    """The (public id, kind) a token was signed for; None unless we signed it."""
    if not token or len(token) > 200:
        return None
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    public_id, kind = data.get("u"), data.get("k")
    if kind not in KIND_SETTINGS or not is_public_id(public_id):
        return None
    return public_id, kind


def read_unsubscribe_token(token: str) -> tuple[User, str] | None:
    """The account and kind a token names; None for a forged or malformed token
    and for an account that no longer exists."""
    claim = _signed_claim(token)
    if claim is None:
        return None
    user = db.session.scalar(select(User).where(User.public_id == claim[0]))
    return (user, claim[1]) if user is not None else None


def unsubscribe_url(user: User, kind: str) -> str:
    return absolute_url("notifications.unsubscribe_confirm", token=unsubscribe_token(user, kind))


def _unsubscribe_headers(url: str) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def unsubscribe_kind(user: User, kind: str) -> None:
    """Turn ``kind`` of email off for ``user``; doing it twice changes nothing."""
    setattr(user, KIND_SETTINGS[kind], False)
    db.session.flush()


# --- who hears about a publication --------------------------------------------------

def _recipients(hub_clause, setting, author_id: int | None) -> list[User]:
    """Active, verified members of the active hubs matching ``hub_clause`` who want
    ``setting`` emails one by one (not the digest), each once, never the author."""
    members = (
        select(Membership.user_id).join(Membership.hub)
        .where(Membership.status == MembershipStatus.ACTIVE, Hub.status == HubStatus.ACTIVE,
               hub_clause)
    )
    query = select(User).where(
        User.id.in_(members), setting.is_(True), User.weekly_digest.is_(False),
        User.disabled_at.is_(None), User.email_verified_at.is_not(None),
        User.travel_mode_since.is_(None),
    ).order_by(User.id)
    if author_id is not None:
        query = query.where(User.id != author_id)
    return list(db.session.scalars(query))


def _queue(user: User, template: str, kind: str, dedupe_key: str, **context) -> bool:
    link = unsubscribe_url(user, kind)
    try:
        email = queue_templated_email(
            to_address=user.email, locale=user.locale, template=template, user_id=user.id,
            dedupe_key=dedupe_key, extra_headers=_unsubscribe_headers(link),
            display_name=user.display_name, unsubscribe_url=link, **context)
    except InvalidRecipient:
        # One address that can never be delivered must not keep the others from hearing.
        return False
    return email is not None


Step = Callable[[], None] | None
# Recipients per INSERT (and per commit in a fan-out): 12 columns a row keeps
# one statement well under SQLite's 32,766 bound parameters.
FAN_OUT_CHUNK = 500


def _queue_each(users: list[User], template: str, kind: str, key_prefix: str,
                chunk_done: Step = None, chunk: int = FAN_OUT_CHUNK, **context) -> int:
    """One email per user, written in chunks: the template is rendered once per
    language with stand-ins for the two things that differ per person (the
    display name and the unsubscribe link), which are then filled in, escaped
    for the HTML body; existing dedupe keys are read with one query per chunk
    and the chunk is inserted with one statement that skips keys another
    worker took meanwhile. ``chunk_done`` runs after each chunk (a fan-out
    commits there). Returns how many emails were added."""
    name_slot = "harbourname" + secrets.token_hex(8)
    link_slot = "harbourlink" + secrets.token_hex(8)
    slots = re.compile(f"{name_slot}|{link_slot}")

    def fill(text: str, values: dict[str, str]) -> str:
        return slots.sub(lambda match: values[match.group()], text)

    # The link's path is built once; only the signed token differs (URL-safe).
    link_pattern = absolute_url("notifications.unsubscribe_confirm", token=link_slot)
    serializer = _serializer()
    # Plain values, read before the first commit expires the objects.
    people = [(user.id, user.public_id, user.email, (user.locale, user.date_format),
               user.display_name) for user in users]
    # One rendering per language and way of writing dates.
    rendered: dict[tuple[str, str | None], tuple[str, str, str]] = {}
    queued = 0
    for start in range(0, len(people), chunk):
        part = people[start:start + chunk]
        taken = taken_dedupe_keys([key_prefix + public_id for _, public_id, *_ in part])
        now = utcnow()
        rows = []
        for user_id, public_id, email, style, display_name in part:
            key = key_prefix + public_id
            if key in taken:
                continue
            if style not in rendered:
                rendered[style] = render_email(
                    style[0], template, style[1], display_name=name_slot,
                    unsubscribe_url=link_slot, **context)
            subject, body_text, body_html = rendered[style]
            link = link_pattern.replace(link_slot, serializer.dumps({"u": public_id, "k": kind}))
            plain = {name_slot: display_name, link_slot: link}
            escaped = {name_slot: str(escape(display_name)), link_slot: str(escape(link))}
            try:
                rows.append(outbox_row(
                    to_address=email, user_id=user_id, dedupe_key=key, now=now,
                    subject=fill(subject, plain), body_text=fill(body_text, plain),
                    body_html=fill(body_html, escaped),
                    extra_headers=_unsubscribe_headers(link)))
            except InvalidRecipient:
                # One address that can never be delivered must not keep the others from hearing.
                continue
        queued += insert_emails(rows)
        if chunk_done is not None:
            chunk_done()
    return queued


def notify_update_published(update: Update, chunk_done: Step = None,
                            chunk: int = FAN_OUT_CHUNK) -> int:
    """Queue one email per opted-in member about a published update, in their
    language; a second call for the same update queues nothing. Returns how many
    were queued."""
    if update.status is not UpdateStatus.PUBLISHED:
        return 0
    if update.hub_id is not None:
        clause = Membership.hub_id == update.hub_id
    else:
        clause = Hub.chapter_id == update.chapter_id
    owner = update.hub if update.hub is not None else update.chapter
    return _queue_each(
        _recipients(clause, User.notify_updates, update.author_id), "new_update", "updates",
        f"publish:update:{update.public_id}:", chunk_done, chunk, update=update, owner=owner,
        update_url=absolute_url("updates.detail", public_id=update.public_id))


def notify_event_published(event: Event, chunk_done: Step = None,
                           chunk: int = FAN_OUT_CHUNK) -> int:
    """Queue one email per opted-in member of the event's hub about a published
    event: title, time in the event's zone and a link, never the place (R44).
    A second call queues nothing. Returns how many were queued."""
    if event.status is not EventStatus.PUBLISHED or event.audience not in ANNOUNCED_AUDIENCES:
        return 0
    return _queue_each(
        _recipients(Membership.hub_id == event.hub_id, User.notify_events,
                    event.created_by_id), "new_event", "events",
        f"publish:event:{event.public_id}:", chunk_done, chunk, event=event, hub=event.hub,
        event_url=absolute_url("events.detail", public_id=event.public_id))


# --- publications: the outbox row, then the fan-out on the queue ---------------------

def announce(kind: str, target_id: int) -> Publication:
    """Record that an update or event (``kind`` "update" or "event") was published,
    in the caller's transaction, and enqueue its fan-out once that transaction
    commits. Cheap whatever the number of recipients. A second call for the
    same target adds nothing."""
    publication = db.session.scalar(
        select(Publication).where(Publication.kind == kind, Publication.target_id == target_id))
    if publication is None:
        publication = Publication(kind=kind, target_id=target_id)
        db.session.add(publication)
        db.session.flush()
    from community import jobs

    # Only once the publication is committed; the periodic sweep catches a lost enqueue.
    after_commit(partial(jobs.enqueue_fan_out, publication.id))
    return publication


def fan_out(publication_id: int, batch: int = FAN_OUT_CHUNK) -> int:
    """Write every recipient's email for one publication, ``batch`` recipients
    per INSERT and per commit, so the database is never locked for long, then
    mark it done. Safe to run again, or in two workers at once: each email has
    a unique dedupe key. Returns how many emails this run queued. Commits:
    call it from a worker or the CLI, never inside a request."""
    # Every transaction here begins as a writer (SQLite), so two workers queue
    # for the lock instead of failing to upgrade a read.
    with immediate():
        return _fan_out(publication_id, batch)


def _fan_out(publication_id: int, batch: int) -> int:
    publication = db.session.get(Publication, publication_id)
    if publication is None or publication.done_at is not None:
        db.session.commit()
        return 0
    queued = 0
    if publication.kind == "update":
        update = db.session.get(Update, publication.target_id)
        if update is not None:
            queued = notify_update_published(update, db.session.commit, batch)
    elif publication.kind == "event":
        event = db.session.get(Event, publication.target_id)
        if event is not None:
            queued = notify_event_published(event, db.session.commit, batch)
    publication = db.session.get(Publication, publication_id)
    if publication.done_at is None:
        publication.done_at = utcnow()
    db.session.commit()
    return queued


def pending_publications() -> list[int]:
    """Publications whose fan-out has not finished, oldest first."""
    return list(db.session.scalars(
        select(Publication.id).where(Publication.done_at.is_(None)).order_by(Publication.id)))


# --- the weekly digest --------------------------------------------------------------

def digest_key(user: User, now: datetime) -> str:
    iso_year, iso_week, _weekday = now.isocalendar()
    return f"digest:{user.public_id}:{iso_year}-W{iso_week}"


def _last_digest_at(user: User) -> datetime | None:
    return db.session.scalar(
        select(OutboxEmail.created_at)
        .where(OutboxEmail.user_id == user.id,
               OutboxEmail.dedupe_key.startswith(f"digest:{user.public_id}:", autoescape=True))
        .order_by(OutboxEmail.created_at.desc()).limit(1))


def digest_news(user: User, since: datetime, now: datetime) -> tuple[list[Event], list[Update]]:
    """Events announced and updates published in the member's active hubs (and
    their chapters) between ``since`` and ``now``, leaving out their own."""
    hub_ids = (select(Membership.hub_id).join(Membership.hub)
               .where(Membership.user_id == user.id,
                      Membership.status == MembershipStatus.ACTIVE,
                      Hub.status == HubStatus.ACTIVE))
    chapter_ids = select(Hub.chapter_id).where(Hub.id.in_(hub_ids))
    events = list(db.session.scalars(
        select(Event).options(joinedload(Event.hub))
        .where(Event.hub_id.in_(hub_ids), Event.status == EventStatus.PUBLISHED,
               Event.audience.in_(ANNOUNCED_AUDIENCES), Event.published_at > since,
               Event.published_at <= now, Event.ends_at > now,
               Event.created_by_id.is_distinct_from(user.id))
        .order_by(Event.starts_at, Event.id).limit(DIGEST_MAX_ITEMS)))
    updates = list(db.session.scalars(
        select(Update).options(joinedload(Update.hub), joinedload(Update.chapter))
        .where(Update.status == UpdateStatus.PUBLISHED,
               or_(Update.hub_id.in_(hub_ids), Update.chapter_id.in_(chapter_ids)),
               Update.published_at > since, Update.published_at <= now,
               Update.author_id.is_distinct_from(user.id))
        .order_by(Update.published_at.desc(), Update.id.desc()).limit(DIGEST_MAX_ITEMS)))
    return events, updates


def digest_readers() -> list[User]:
    """Members who chose the weekly digest, verified and not disabled."""
    members = select(Membership.user_id).join(Membership.hub).where(
        Membership.status == MembershipStatus.ACTIVE, Hub.status == HubStatus.ACTIVE)
    return list(db.session.scalars(
        select(User).where(User.weekly_digest.is_(True), User.id.in_(members),
                           User.disabled_at.is_(None), User.email_verified_at.is_not(None))
        .order_by(User.id)))


def send_digests(now: datetime | None = None, users: list[User] | None = None,
                 progress: Callable[[int], None] | None = None) -> int:
    """Queue this ISO week's digest for every member who chose it (or for
    ``users``) and has news since their last one; nobody gets two in one week,
    so running it again is harmless. Returns how many were queued."""
    now = now or utcnow()
    if users is None:
        users = digest_readers()
    queued = 0
    for user in users:
        if progress is not None:
            progress(1)
        key = digest_key(user, now)
        last = _last_digest_at(user)
        if last is not None and digest_key(user, last) == key:
            continue
        since = max(last or now - DIGEST_FIRST_WINDOW, now - DIGEST_LOOKBACK)
        events, updates = digest_news(user, since, now)
        if not events and not updates:
            continue
        queued += _queue(
            user, "digest", "digest", key,
            events=[(event, absolute_url("events.detail", public_id=event.public_id))
                    for event in events],
            updates=[(update, absolute_url("updates.detail", public_id=update.public_id))
                     for update in updates])
    db.session.flush()
    return queued


def init_cli(app: Flask) -> None:
    """Register `flask --app wsgi send-digest`."""

    @app.cli.command("send-digest")
    def send_digest_command() -> None:
        """Queue this week's digest for members who chose it (safe to run again)."""
        users = digest_readers()
        with click.progressbar(length=len(users), label="Writing digests") as bar:
            queued = send_digests(users=users, progress=bar.update)
        db.session.commit()
        click.echo(f"queued {queued} digest(s)")


# --- pages --------------------------------------------------------------------------

def _invalid_link():
    return render_template("notifications/unsubscribe_invalid.html"), 400


@bp.get("/unsubscribe/<token>")
def unsubscribe_confirm(token: str):
    # Only a page with a button: mail scanners follow links, so GET changes nothing (R26).
    found = read_unsubscribe_token(token)
    if found is None:
        return _invalid_link()
    user, kind = found
    with force_locale(user.locale):
        return render_template("notifications/unsubscribe.html", kind=kind, token=token)


# Exempt from CSRF because mail clients send RFC 8058's one-click POST
# ("List-Unsubscribe=One-Click") with no form token; the signed token in the URL
# is the protection instead: it names one account and one kind of email and only
# turns that email off. A token that does not verify gets the CSRF check back.
@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str):
    if _signed_claim(token) is None:
        csrf.protect()
    found = read_unsubscribe_token(token)
    if found is None:
        return _invalid_link()
    user, kind = found
    unsubscribe_kind(user, kind)
    with force_locale(user.locale):
        return render_template("notifications/unsubscribed.html", kind=kind)
