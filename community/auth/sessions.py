"""Server-side sessions (R21-R24): the signed cookie carries only a random
256-bit id; the record holds its SHA-256, a device label and two times."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import partial

from flask import current_app, g, session
from sqlalchemy import delete, exists, select, update

from community.auth.models import User, UserSession
from community.database import utcnow
from community.extensions import db, login_manager
from community.transaction import after_commit

SESSION_KEY = "sid"
TOUCH_EVERY = timedelta(seconds=60)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def device_label(user_agent: str | None) -> str:
    """A coarse label such as "Firefox on Linux"; the full user agent is not kept."""
    ua = user_agent or ""
    browser = next(
        (name for pattern, name in (
            (r"Firefox/", "Firefox"), (r"Edg/", "Edge"), (r"OPR/", "Opera"),
            (r"Chrome/|Chromium/", "Chrome"), (r"Safari/", "Safari"),
        ) if re.search(pattern, ua)),
        "Browser",
    )
    system = next(
        (name for pattern, name in (
            (r"Android", "Android"), (r"iPhone|iPad", "iOS"), (r"Windows", "Windows"),
            (r"Mac OS X|Macintosh", "macOS"), (r"Linux", "Linux"),
        ) if re.search(pattern, ua)),
        "",
    )
    return f"{browser} on {system}" if system else browser


def describe_device(label: str) -> str:
    """A stored ``device_label`` ("Chrome on Linux", kept in English) in the
    viewer's language; a label we did not write is shown as it is."""
    from flask_babel import gettext as _

    browser, _sep, system = (label or "").partition(" on ")
    shown = _("Browser") if browser == "Browser" else browser
    return _("%(browser)s on %(system)s", browser=shown, system=system) if system else shown


def is_staff(user: User) -> bool:
    """Site admins, coordinators, and organisers or leads of any hub."""
    from community.hubs.models import ChapterRole, MemberRole, Membership, MembershipStatus

    if user.is_site_admin:
        return True
    return bool(db.session.scalar(select(
        exists().where(
            Membership.user_id == user.id,
            Membership.status == MembershipStatus.ACTIVE,
            Membership.role.in_([MemberRole.ORGANISER, MemberRole.LEAD]),
        ) | exists().where(ChapterRole.user_id == user.id)
    )))


def timeouts(record: UserSession, staff: bool) -> tuple[timedelta, timedelta]:
    """(idle, absolute) for a session: staff get the shorter R23 limits and no remember-me."""
    config = current_app.config
    if staff:
        return config["STAFF_SESSION_IDLE_TIMEOUT"], config["STAFF_SESSION_ABSOLUTE_TIMEOUT"]
    if record.remember:
        lifetime = config["PERMANENT_SESSION_LIFETIME"]
        return lifetime, lifetime
    return config["SESSION_IDLE_TIMEOUT"], config["SESSION_ABSOLUTE_TIMEOUT"]


def start_session(user: User, *, remember: bool, user_agent: str | None) -> UserSession:
    """Sign ``user`` in: a fresh cookie (no pre-login value survives, R22) and a new record."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    record = UserSession(
        user=user,
        token_hash=hash_token(token),
        device_label=device_label(user_agent),
        last_seen_at=now,
        reauthenticated_at=now,
        remember=remember and not is_staff(user),
    )
    db.session.add(record)
    db.session.flush()
    session.clear()
    session[SESSION_KEY] = token
    session.permanent = record.remember
    g.user_session = record
    return record


def end_session() -> None:
    """Sign out this browser: delete its record and forget the cookie."""
    token = session.get(SESSION_KEY)
    if token:
        db.session.execute(delete(UserSession).where(UserSession.token_hash == hash_token(token)))
    session.clear()


def end_other_sessions(user: User, keep: UserSession | None = None) -> int:
    """Revoke every session of ``user`` except ``keep``; returns how many ended."""
    stmt = delete(UserSession).where(UserSession.user_id == user.id)
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep.id)
    return db.session.execute(stmt).rowcount or 0


def current_session() -> UserSession | None:
    return g.get("user_session")


def mark_reauthenticated() -> None:
    record = current_session()
    if record is not None:
        record.reauthenticated_at = utcnow()


def recently_authenticated(now: datetime | None = None) -> bool:
    record = current_session()
    if record is None or record.reauthenticated_at is None:
        return False
    return (now or utcnow()) - record.reauthenticated_at <= current_app.config["REAUTH_WINDOW"]


@login_manager.request_loader
def load_user_from_session(_request) -> User | None:
    """The user of a live, unexpired server-side session, or None.

    An expired or revoked session's cookie is forgotten at once and its record
    deleted after the request; a live one is marked as seen at most once a
    minute. Neither write can break the page (community.transaction.after_commit).
    """
    token = session.get(SESSION_KEY)
    if not token or not isinstance(token, str):
        return None
    record = db.session.scalar(
        select(UserSession).where(UserSession.token_hash == hash_token(token))
    )
    now = utcnow()
    if record is not None and record.user.is_active:
        idle, absolute = timeouts(record, is_staff(record.user))
        if now - record.last_seen_at <= idle and now - record.created_at <= absolute:
            if now - record.last_seen_at >= TOUCH_EVERY:
                after_commit(partial(_touch, record.id, now))
            g.user_session = record
            return record.user
    if record is not None:
        after_commit(partial(_forget, record.id))
    session.clear()
    g.session_ended = True
    return None


def _touch(record_id: int, now: datetime) -> None:
    db.session.execute(update(UserSession).where(UserSession.id == record_id)
                       .values(last_seen_at=now).execution_options(synchronize_session=False))


def _forget(record_id: int) -> None:
    db.session.execute(delete(UserSession).where(UserSession.id == record_id)
                       .execution_options(synchronize_session=False))


@login_manager.user_loader
def _no_cookie_user(_user_id: str) -> None:
    # Flask-Login's own cookie login is never used: sessions live on the server.
    return None
