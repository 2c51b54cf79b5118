"""Factories for test data, the demo seed and the benchmark data set.

Each takes only what matters to the caller and fills sane defaults.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from community.auth.models import User
from community.auth.passwords import hash_password
from community.database import utcnow
from community.events.models import Audience, Event, EventStatus, Rsvp, RsvpStatus
from community.extensions import db
from community.hubs.models import (
    Chapter,
    ChapterRole,
    Hub,
    HubStatus,
    HubVisibility,
    MemberRole,
    Membership,
    MembershipStatus,
)
from community.updates.models import Update, UpdateAudience, UpdateStatus

_counter = itertools.count(1)


def _n() -> int:
    return next(_counter)


def make_chapter(code: str | None = None, **kw) -> Chapter:
    code = code or f"c{_n()}"
    chapter = Chapter(
        code=code,
        name_en=kw.pop("name_en", f"Chapter {code.upper()}"),
        name_zh=kw.pop("name_zh", f"分會 {code.upper()}"),
        default_timezone=kw.pop("default_timezone", "Europe/London"),
        **kw,
    )
    db.session.add(chapter)
    db.session.flush()
    return chapter


def make_hub(chapter: Chapter | None = None, slug: str | None = None, **kw) -> Hub:
    chapter = chapter or make_chapter()
    n = _n()
    hub = Hub(
        chapter=chapter,
        slug=slug or f"hub-{n}",
        name_en=kw.pop("name_en", f"Hub {n}"),
        name_zh=kw.pop("name_zh", f"小組 {n}"),
        timezone=kw.pop("timezone", chapter.default_timezone),
        status=kw.pop("status", HubStatus.ACTIVE),
        visibility=kw.pop("visibility", HubVisibility.LISTED),
        **kw,
    )
    db.session.add(hub)
    db.session.flush()
    return hub


def make_user(
    email: str | None = None,
    password: str = "correct horse battery staple",  # noqa: S107 (test and demo data only)
    *,
    verified: bool = True,
    password_hash: str | None = None,
    **kw,
) -> User:
    n = _n()
    user = User(
        email=email or f"member{n}@example.org",
        display_name=kw.pop("display_name", f"Member {n}"),
        password_hash=password_hash or hash_password(password),
        email_verified_at=utcnow() if verified else None,
        **kw,
    )
    db.session.add(user)
    db.session.flush()
    return user


def make_membership(
    user: User,
    hub: Hub,
    role: MemberRole = MemberRole.MEMBER,
    status: MembershipStatus = MembershipStatus.ACTIVE,
    **kw,
) -> Membership:
    membership = Membership(user=user, hub=hub, role=role, status=status, **kw)
    db.session.add(membership)
    db.session.flush()
    return membership


def make_coordinator(user: User, chapter: Chapter) -> ChapterRole:
    role = ChapterRole(user=user, chapter=chapter)
    db.session.add(role)
    db.session.flush()
    return role


def make_event(
    hub: Hub | None = None,
    *,
    starts_at: datetime | None = None,
    duration: timedelta = timedelta(hours=2),
    **kw,
) -> Event:
    hub = hub or make_hub()
    n = _n()
    starts_at = starts_at or utcnow() + timedelta(days=7)
    event = Event(
        hub=hub,
        title_en=kw.pop("title_en", f"Event {n}"),
        title_zh=kw.pop("title_zh", f"活動 {n}"),
        starts_at=starts_at,
        ends_at=kw.pop("ends_at", starts_at + duration),
        timezone=kw.pop("timezone", hub.timezone),
        status=kw.pop("status", EventStatus.PUBLISHED),
        audience=kw.pop("audience", Audience.PUBLIC),
        **kw,
    )
    if event.status is EventStatus.PUBLISHED and event.published_at is None:
        event.published_at = utcnow()
    db.session.add(event)
    db.session.flush()
    return event


def make_rsvp(event: Event, user: User, status: RsvpStatus = RsvpStatus.GOING, **kw) -> Rsvp:
    rsvp = Rsvp(event=event, user=user, status=status, **kw)
    db.session.add(rsvp)
    db.session.flush()
    return rsvp


def make_update(hub: Hub | None = None, *, chapter: Chapter | None = None, **kw) -> Update:
    if hub is None and chapter is None:
        hub = make_hub()
    n = _n()
    update = Update(
        hub=hub,
        chapter=chapter,
        title_en=kw.pop("title_en", f"Update {n}"),
        title_zh=kw.pop("title_zh", f"消息 {n}"),
        body_en=kw.pop("body_en", "News from the hub."),
        body_zh=kw.pop("body_zh", "小組最新消息。"),
        audience=kw.pop("audience", UpdateAudience.PUBLIC),
        status=kw.pop("status", UpdateStatus.PUBLISHED),
        **kw,
    )
    if update.status is UpdateStatus.PUBLISHED and update.published_at is None:
        update.published_at = utcnow()
    db.session.add(update)
    db.session.flush()
    return update
