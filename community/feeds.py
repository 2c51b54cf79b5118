"""Atom feeds and subscribable calendars of public content, and the personal
calendar of a member's own RSVPs.

Feeds and hub/chapter calendars are public: they hold only published, public
items of listed, active hubs (R4), and never an address or online link that is
not public right now (R3). The personal calendar shows each event's place as
its owner may see it. XML is built with ElementTree, never by joining strings.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import xml.etree.ElementTree as ET  # noqa: S405  (we only write XML, never parse it)
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import or_, select, union_all
from sqlalchemy.orm import contains_eager, joinedload

from community import calendars
from community.auth.models import User
from community.database import utcnow
from community.events import services as event_services
from community.events.models import Event, EventStatus, Rsvp, RsvpStatus
from community.extensions import db
from community.hubs.models import Chapter, Hub
from community.i18n import format_event_time, html_lang, localized, rsvp_status_label
from community.markdown import render_markdown
from community.permissions import listed_hub_clause, public_event_clause, public_update_clause
from community.security import absolute_url
from community.updates.models import Update

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FEED_LIMIT = 50
CALENDAR_LIMIT = 500
# Hub and chapter calendars hold the events that start from 30 days ago to a year
# ahead (README "Calendars and feeds"): recent history stays in subscribers'
# calendars, and the file no longer grows with every event a hub ever had.
CALENDAR_DAYS_BACK = 30
CALENDAR_DAYS_AHEAD = 365
# The year in every tag: URI (RFC 4151); it names when we minted them, so it never changes.
TAG_DATE = "2025"
# Characters XML 1.0 cannot carry, even escaped.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# What secrets.token_urlsafe(32) produces.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
PERSONAL_STATUSES = (RsvpStatus.GOING, RsvpStatus.WAITLISTED, RsvpStatus.PENDING)


# --- what is public ------------------------------------------------------------------

def listed_hub_or_none(slug: str) -> Hub | None:
    """A listed, active hub: the only kind with feeds. Anything else is None (404)."""
    return db.session.scalar(select(Hub).where(Hub.slug == slug, listed_hub_clause()))


def public_updates(*, hub: Hub | None = None, chapter: Chapter | None = None,
                   limit: int = FEED_LIMIT) -> list[Update]:
    """Published public updates, newest first: of one hub; of a chapter and its listed
    hubs; or, with neither, of every chapter and listed hub."""
    stmt = (select(Update).outerjoin(Hub, Update.hub_id == Hub.id)
            .options(joinedload(Update.hub), joinedload(Update.chapter))
            .where(public_update_clause(), Update.published_at.is_not(None)))
    if hub is not None:
        stmt = stmt.where(Update.hub_id == hub.id, listed_hub_clause())
    elif chapter is not None:
        stmt = stmt.where(or_(Update.chapter_id == chapter.id,
                              listed_hub_clause() & (Hub.chapter_id == chapter.id)))
    else:
        stmt = stmt.where(or_(Update.chapter_id.is_not(None), listed_hub_clause()))
    return list(db.session.scalars(
        stmt.order_by(Update.published_at.desc(), Update.id.desc()).limit(limit)))


def _public_events(*, hub: Hub | None, chapter: Chapter | None, statuses, window, order,
                   limit: int) -> list[Event]:
    stmt = (select(Event).join(Event.hub).options(contains_eager(Event.hub))
            .where(public_event_clause(statuses), window))
    if hub is not None:
        stmt = stmt.where(Event.hub_id == hub.id)
    if chapter is not None:
        stmt = stmt.where(Hub.chapter_id == chapter.id)
    return list(db.session.scalars(stmt.order_by(*order).limit(limit)))


def announced_events(*, hub: Hub | None = None, chapter: Chapter | None = None,
                     limit: int = FEED_LIMIT, now: datetime | None = None) -> list[Event]:
    """Upcoming published public events of listed hubs, most recently announced first
    (ix_events_announced: every published event has its published_at)."""
    return _public_events(hub=hub, chapter=chapter, statuses=[EventStatus.PUBLISHED],
                          # Not ended; no bound on the start, which would tempt
                          # SQLite to range over start times and sort them all.
                          window=Event.ends_at >= (now or utcnow()),
                          order=[Event.published_at.desc(), Event.id.desc()], limit=limit)


def calendar_events(*, hub: Hub | None = None, chapter: Chapter | None = None,
                    limit: int = CALENDAR_LIMIT, now: datetime | None = None) -> list[Event]:
    """Public events of listed hubs starting from CALENDAR_DAYS_BACK days ago to
    CALENDAR_DAYS_AHEAD days ahead, soonest first; cancelled ones stay so subscribed
    calendars learn of the cancellation."""
    now = now or utcnow()
    window = ((Event.starts_at >= now - timedelta(days=CALENDAR_DAYS_BACK))
              & (Event.starts_at < now + timedelta(days=CALENDAR_DAYS_AHEAD)))
    if hub is None:
        # Across hubs, the first ``limit`` of each status in start order, each read
        # from ix_events_listing in order, then merged: a plain "status IN (...)"
        # would sort every event of the window.
        firsts = []
        for status in (EventStatus.PUBLISHED, EventStatus.CANCELLED):
            first = (select(Event.id).join(Event.hub)
                     .where(public_event_clause([status]), window)
                     .order_by(Event.starts_at, Event.id).limit(limit))
            if chapter is not None:
                first = first.where(Hub.chapter_id == chapter.id)
            firsts.append(select(first.subquery().c.id))
        window = window & Event.id.in_(union_all(*firsts))
    return _public_events(hub=hub, chapter=chapter,
                          statuses=[EventStatus.PUBLISHED, EventStatus.CANCELLED],
                          window=window, order=[Event.starts_at, Event.id], limit=limit)


# --- Atom ------------------------------------------------------------------------------

@dataclass
class Entry:
    id: str
    title: str
    title_lang: str
    url: str
    published: datetime
    updated: datetime
    summary: str = ""
    summary_lang: str = ""
    content_html: str = ""
    content_lang: str = ""


@dataclass
class Feed:
    id: str
    title: str
    self_url: str
    page_url: str
    author: str
    entries: list[Entry] = field(default_factory=list)


def _host() -> str:
    netloc = current_app.config["BASE_URL"].split("://", 1)[-1].split("/", 1)[0]
    return netloc.rsplit("@", 1)[-1].split(":", 1)[0]


def tag_uri(*parts: str) -> str:
    """A stable, public tag: URI (RFC 4151) such as tag:harbour.example,2025:event/abc."""
    return f"tag:{_host()},{TAG_DATE}:" + "/".join(parts)


def rfc3339(value: datetime) -> str:
    """An aware datetime in UTC, to the second, as RFC 3339 wants it."""
    if value.tzinfo is None:  # pragma: no cover - the UTCDateTime column refuses naive values
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def xml_text(text: str) -> str:
    """``text`` without the control characters XML 1.0 cannot hold."""
    return _NOT_XML.sub("", text or "")


def update_entry(update: Update) -> Entry:
    title = localized(update, "title")
    body = localized(update, "body")
    if "updates.detail" in current_app.view_functions:
        url = absolute_url("updates.detail", public_id=update.public_id)
    elif update.hub is not None:
        url = absolute_url("hubs.detail", slug=update.hub.slug)
    else:
        url = absolute_url("hubs.chapter", code=update.chapter.code)
    published = update.published_at or update.created_at
    return Entry(
        id=tag_uri("update", update.public_id), title=title.text, title_lang=title.lang,
        url=url, published=published, updated=max(published, update.updated_at),
        # The sanitised HTML as plain text: ElementTree escapes it for the XML.
        content_html=str(render_markdown(body.text)), content_lang=body.lang,
    )


def event_entry(event: Event) -> Entry:
    """Title, start time in the event's zone and a link. Never the venue, address or
    online link, whatever their tier: the feed is public (R3)."""
    title = localized(event, "title")
    published = event.published_at or event.created_at
    summary = _("Starts %(when)s. Hosted by %(hub)s.", when=format_event_time(event),
                hub=localized(event.hub, "name").text)
    return Entry(
        id=tag_uri("event", event.public_id), title=title.text, title_lang=title.lang,
        url=absolute_url("events.detail", public_id=event.public_id),
        published=published, updated=max(published, event.updated_at),
        summary=summary, summary_lang=html_lang(),
    )


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag,
                            {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def render_atom(feed: Feed, *, now: datetime | None = None) -> bytes:
    """The feed as an Atom 1.0 document (RFC 4287) in the viewer's language."""
    # Plain tag names under a default namespace declared once on the root.
    root = ET.Element("feed", {"xmlns": ATOM_NS, XML_LANG: html_lang()})
    _sub(root, "id", feed.id)
    _sub(root, "title", feed.title)
    newest = max((e.updated for e in feed.entries), default=None) or now or utcnow()
    _sub(root, "updated", rfc3339(newest))
    _sub(root, "link", rel="self", type="application/atom+xml", href=feed.self_url)
    _sub(root, "link", rel="alternate", type="text/html", href=feed.page_url)
    author = _sub(root, "author")
    _sub(author, "name", feed.author)
    for item in feed.entries:
        entry = _sub(root, "entry", **{XML_LANG: item.title_lang})
        _sub(entry, "id", item.id)
        _sub(entry, "title", item.title, type="text")
        _sub(entry, "link", rel="alternate", type="text/html", href=item.url)
        _sub(entry, "published", rfc3339(item.published))
        _sub(entry, "updated", rfc3339(item.updated))
        if item.summary:
            _sub(entry, "summary", item.summary, type="text",
                 **{XML_LANG: item.summary_lang or item.title_lang})
        if item.content_html:
            _sub(entry, "content", item.content_html, type="html",
                 **{XML_LANG: item.content_lang or item.title_lang})
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def updates_feed(*, hub: Hub | None = None, chapter: Chapter | None = None) -> Feed:
    name, scope, page_url, self_url = _scope(hub, chapter, "updates")
    return Feed(id=tag_uri(*scope, "updates"), title=_("Updates from %(name)s", name=name),
                self_url=self_url, page_url=page_url, author=name,
                entries=[update_entry(u) for u in public_updates(hub=hub, chapter=chapter)])


def events_feed(*, hub: Hub | None = None, chapter: Chapter | None = None) -> Feed:
    name, scope, page_url, self_url = _scope(hub, chapter, "events")
    return Feed(id=tag_uri(*scope, "events"), title=_("Events from %(name)s", name=name),
                self_url=self_url, page_url=page_url, author=name,
                entries=[event_entry(e) for e in announced_events(hub=hub, chapter=chapter)])


def _scope(hub: Hub | None, chapter: Chapter | None, kind: str):
    """Name, id parts, page URL and the feed's own URL for a hub, a chapter or the site."""
    if hub is not None:
        return (localized(hub, "name").text, ("hub", hub.slug),
                absolute_url("hubs.detail", slug=hub.slug),
                absolute_url(f"feeds.hub_{kind}", slug=hub.slug))
    if chapter is not None:
        return (localized(chapter, "name").text, ("chapter", chapter.code),
                absolute_url("hubs.chapter", code=chapter.code),
                absolute_url(f"feeds.chapter_{kind}", code=chapter.code))
    return (_("Harbour"), ("site",), absolute_url("main.home"),
            absolute_url(f"feeds.site_{kind}"))


# --- calendars -------------------------------------------------------------------------

_ANONYMOUS = event_services.Viewer(user=None, membership=None, rsvp=None, organiser=False)


def public_calendar(*, hub: Hub | None = None, chapter: Chapter | None = None,
                    now: datetime | None = None) -> bytes:
    """A subscribable calendar of upcoming public events. A place appears only when a
    visitor may see it now: public tier and no reveal time still to come (R3)."""
    name = localized(hub or chapter, "name").text
    calendar = calendars.CalendarFile(_("Events from %(name)s", name=name))
    for event in calendar_events(hub=hub, chapter=chapter, now=now):
        place = event_services.location_for(event, _ANONYMOUS, now)
        calendar.add(event, location=place.calendar_text, online_url=place.online_url or None)
    return calendar.to_bytes()


def personal_calendar(user: User, *, now: datetime | None = None) -> bytes:
    """The member's own RSVPs (going, waitlisted, pending) of events from a week ago
    on, each place as this member may see it, in the member's language."""
    now = now or utcnow()
    answers = db.session.scalars(
        select(Rsvp).join(Rsvp.event)
        .options(joinedload(Rsvp.event).joinedload(Event.hub))
        .where(Rsvp.user_id == user.id, Rsvp.status.in_(PERSONAL_STATUSES),
               Event.status != EventStatus.DRAFT, Event.ends_at >= now - timedelta(days=7))
        .order_by(Event.starts_at, Event.id).limit(CALENDAR_LIMIT)
    ).all()
    with force_locale(user.locale or "en"):
        calendar = calendars.CalendarFile(_("My Harbour calendar"))
        for answer in answers:
            event = answer.event
            viewer = event_services.viewer_for(event, user)
            if not event_services.can_view(event, viewer):
                continue
            place = event_services.location_for(event, viewer, now)
            summary = None
            if answer.status is not RsvpStatus.GOING:
                title = localized(event, "title").text
                summary = f"{title} ({rsvp_status_label(answer.status)})"
            calendar.add(event, location=place.calendar_text,
                         online_url=place.online_url or None, summary=summary)
        return calendar.to_bytes()


# --- personal calendar tokens ------------------------------------------------------------

def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_calendar_token(user: User) -> str:
    """Give ``user`` a new secret calendar token, replacing any old one. Only its
    SHA-256 is stored; the token itself is returned to be shown once (R7)."""
    token = secrets.token_urlsafe(32)
    user.calendar_token_hash = _hash(token)
    db.session.flush()
    return token


def revoke_calendar_token(user: User) -> None:
    user.calendar_token_hash = None
    db.session.flush()


def user_by_calendar_token(token: str) -> User | None:
    """The active member this token belongs to, or None for anything else."""
    if not _TOKEN_SHAPE.fullmatch(token or ""):
        return None
    user = db.session.scalar(select(User).where(User.calendar_token_hash == _hash(token)))
    if user is None or not user.is_active:
        return None
    return user
