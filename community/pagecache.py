"""Cached public pages, calendars and feeds (issue 14).

A public page a visitor sees is the same for every visitor with the same
language, time zone and address, so its HTML is kept (Flask-Caching: a
SimpleCache in each worker by default, Redis in production through
``CACHE_TYPE``/``CACHE_REDIS_URL``) and served again without a query of the page
or a template. Only **anonymous** requests are served from or stored in it:

- the session holds nothing but a CSRF secret (and Flask-Login's ``_fresh``: no
  ``sid``: nobody signed in, or
  on the way in; no flashed message), there is no remember-me cookie and no
  Authorization header. The check reads the signed session cookie only: it
  never loads a user;
- the view's answer is a 200 that set no cookie and left the session as it was;
- the page's CSRF token (the language switch) is stored as a placeholder and
  filled in per request, so no visitor's token is ever in the cache; Set-Cookie
  and the session cookie are never stored (they are added after this layer).

Keys are the content stamp (below), the language, the time zone, the endpoint
and the full path with its query, hashed. The **content stamp** is the newest
``updated_at`` of events, updates and hubs, read in one statement of three index
look-ups: a published, edited or cancelled event (or
update, or hub change) changes it, so every worker stops using older pages at
once, with SimpleCache as with Redis. What the stamp does not see (RSVP counts,
a new member, a renamed chapter) shows after at most ``PAGE_CACHE_SECONDS`` (30 s
by default): entries expire then. Calendars and feeds, which take longest to
build and show no counts, live ``FEED_CACHE_SECONDS`` (5 minutes): a place whose
reveal time has passed may appear in them up to that much later, never earlier.

Calendars and Atom feeds (``cached_feed``) are kept the same way, are sent with
``ETag`` and ``Last-Modified`` and answer ``304 Not Modified`` to a conditional
request that already has them. The personal calendar is never cached (its URL
carries a secret): it gets an ``ETag`` only (``conditional``).
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from functools import wraps

from flask import current_app, g, make_response, request, session
from flask_babel import get_locale, get_timezone
from sqlalchemy import func, select

from community.extensions import cache, db
from community.i18n import english_region

CSRF_PLACEHOLDER = "\x00csrf\x00"
# Headers a cached answer keeps; the rest (Set-Cookie above all) are never stored.
KEPT_HEADERS = ("Content-Type", "Content-Disposition", "X-Content-Type-Options",
                "Content-Language")
# A CSRF secret, and Flask-Login's "_fresh" (False) that it writes for anyone.
_SESSION_KEYS_OF_A_VISITOR = {"csrf_token", "_fresh"}


def _enabled() -> bool:
    return current_app.extensions.get("cache", {}).get(cache).__class__.__name__ != "NullCache"


def anonymous_request() -> bool:
    """A GET of a visitor: nothing personal can be in what this request is shown."""
    if not _enabled():
        return False
    if request.method not in ("GET", "HEAD") or request.authorization is not None:
        return False
    if current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies:
        return False
    return set(session.keys()) <= _SESSION_KEYS_OF_A_VISITOR


_stamp_query = None
# (time.monotonic() when read, the stamp, its database): each worker reads the stamp
# at most every PAGE_CACHE_STAMP_SECONDS, and at once after it wrote public content.
_stamp_memo: tuple[float, datetime | None, str] | None = None


def content_stamp() -> datetime | None:
    """The newest change to public content (events, updates, hubs)."""
    global _stamp_query, _stamp_memo
    memo = _stamp_memo
    seconds = current_app.config.get("PAGE_CACHE_STAMP_SECONDS", 2)
    database = current_app.config["SQLALCHEMY_DATABASE_URI"]
    if memo is not None and memo[2] == database and time.monotonic() - memo[0] < seconds:
        return memo[1]
    if _stamp_query is None:
        from community.events.models import Event
        from community.hubs.models import Hub
        from community.updates.models import Update

        _stamp_query = select(
            select(func.max(Event.updated_at)).scalar_subquery(),
            select(func.max(Update.updated_at)).scalar_subquery(),
            select(func.max(Hub.updated_at)).scalar_subquery(),
        )
    row = db.session.execute(_stamp_query).one()
    stamps = [_aware(value) for value in row if value is not None]
    stamp = max(stamps) if stamps else None
    _stamp_memo = (time.monotonic(), stamp, database)
    return stamp


def forget_stamp(session, *_args) -> None:
    """After a flush that wrote an event, update, hub or chapter, read the stamp anew."""
    global _stamp_memo
    if _stamp_memo is None:
        return
    from community.events.models import Event
    from community.hubs.models import Chapter, Hub
    from community.updates.models import Update

    kinds = (Event, Update, Hub, Chapter)
    if any(isinstance(obj, kinds) for obj in (*session.new, *session.dirty, *session.deleted)):
        _stamp_memo = None


def _aware(value) -> datetime:
    # max() of a UTCDateTime column comes back as text on SQLite.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _key(kind: str) -> str:
    stamp = content_stamp()
    # English dates follow the reader's region (en-GB, en-US …), so it is part of the key.
    parts = "\n".join([kind, stamp.isoformat() if stamp else "-", str(get_locale()),
                       english_region(), str(get_timezone()), request.endpoint or "",
                       request.full_path])
    return "page:" + hashlib.sha256(parts.encode()).hexdigest()


def _cache_get(key: str):
    """The entry, or None; a cache that cannot be reached (Redis down) is a miss:
    pages are then built as if there were no cache, never answered 500."""
    try:
        return cache.get(key)
    except Exception as error:  # noqa: BLE001  (any backend failure is a miss)
        _unavailable(error)
        return None


def _cache_set(key: str, entry: dict, timeout: int) -> None:
    try:
        cache.set(key, entry, timeout=timeout)
    except Exception as error:  # noqa: BLE001
        _unavailable(error)


def _unavailable(error: Exception) -> None:
    # The kind of failure only: a Redis error message may carry its address.
    current_app.logger.warning("page cache unavailable (%s); serving without it",
                               type(error).__name__)


def _timeout(feed: bool = False) -> int:
    name = "FEED_CACHE_SECONDS" if feed else "PAGE_CACHE_SECONDS"
    return int(current_app.config.get(name, 300 if feed else 30))


def _csrf_token() -> str:
    from flask_wtf.csrf import generate_csrf

    return generate_csrf()


def cached_page(view):
    """Serve a public HTML page from the cache to visitors (see the module's notes)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not anonymous_request():
            return view(*args, **kwargs)
        key = _key("html")
        entry = _cache_get(key)
        if entry is not None:
            g.noindex = entry["noindex"]
            body = entry["body"]
            if CSRF_PLACEHOLDER in body:
                body = body.replace(CSRF_PLACEHOLDER, _csrf_token())
            response = make_response(body, 200)
            for name, value in entry["headers"]:
                response.headers[name] = value
            return response
        response = make_response(view(*args, **kwargs))
        if _storable(response):
            body = response.get_data(as_text=True)
            token = g.get("csrf_token")
            if token:
                body = body.replace(token, CSRF_PLACEHOLDER)
            _cache_set(key, {"body": body, "noindex": g.get("noindex", True),
                             "headers": _kept_headers(response)}, _timeout())
        return response

    return wrapper


def _storable(response) -> bool:
    return (response.status_code == 200 and not response.direct_passthrough
            and "Set-Cookie" not in response.headers
            and set(session.keys()) <= _SESSION_KEYS_OF_A_VISITOR)


def _kept_headers(response) -> list[tuple[str, str]]:
    return [(name, response.headers[name]) for name in KEPT_HEADERS if name in response.headers]


def cached_feed(view):
    """A public calendar or feed: kept like a page, with ETag and Last-Modified, and
    304 for a conditional request that has it already. Never personal, whoever asks."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not _enabled():
            response = make_response(view(*args, **kwargs))
            if response.status_code != 200:
                return response
            return _revalidated(response, hashlib.sha256(response.get_data()).hexdigest()[:32],
                                None)
        key = _key("feed")
        entry = _cache_get(key)
        if entry is None:
            response = make_response(view(*args, **kwargs))
            if response.status_code != 200 or "Set-Cookie" in response.headers:
                return response
            body = response.get_data()
            from community.permissions import request_hidden_from_search

            entry = {"body": body, "headers": _kept_headers(response),
                     # The robots header of a hub's feed, decided once, not per request.
                     "noindex": request_hidden_from_search(),
                     "etag": hashlib.sha256(body).hexdigest()[:32],
                     # When this body was made: what the stamp misses (a reveal time
                     # passing) must not be answered 304 by date.
                     "modified": datetime.now(UTC)}
            _cache_set(key, entry, _timeout(feed=True))
        g.noindex = entry["noindex"]
        response = make_response(entry["body"], 200)
        for name, value in entry["headers"]:
            response.headers[name] = value
        return _revalidated(response, entry["etag"], entry["modified"])

    return wrapper


def conditional(response):
    """ETag (a hash of the body) and 304 for a conditional request: for answers that
    must not be cached here, such as the personal calendar."""
    etag = hashlib.sha256(response.get_data()).hexdigest()[:32]
    return _revalidated(response, etag, None, private=True)


def _revalidated(response, etag: str, modified: datetime | None, *, private: bool = False):
    response.set_etag(etag)
    if modified is not None:
        response.last_modified = modified.replace(microsecond=0)
    # Kept by calendar apps and feed readers, but asked for again each time.
    response.headers["Cache-Control"] = "private, no-cache" if private else "no-cache"
    return response.make_conditional(request)
