"""Issue 14: cached public pages, calendars and feeds. A visitor never gets a
member's page nor a member a visitor's; nobody's CSRF token or flash is kept; a
change to public content shows at once; calendars answer 304 to what they sent."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

import pytest

from community import pagecache
from community.database import utcnow
from community.events.models import Audience, RsvpStatus
from community.extensions import cache, db
from community.factories import (
    make_chapter,
    make_event,
    make_hub,
    make_membership,
    make_rsvp,
    make_user,
)
from tests.conftest import csrf_token, login_as
from tests.functional.test_query_counts import counted

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/6")


def _redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


# Every test below runs with the embedded default (a SimpleCache in each worker) and
# with Redis, the production setting (deploy/install.sh writes it; CI has Redis).
@pytest.fixture(params=["SimpleCache", "RedisCache"])
def page_cache(app, request):
    """The cache as a deployment has it (tests otherwise run without one)."""
    config = {"CACHE_TYPE": request.param}
    if request.param == "RedisCache":
        if not _redis_reachable():
            pytest.skip(f"needs Redis at {REDIS_URL} (CI starts it)")
        # A prefix of this process's own: suites on two databases may run at once.
        config.update(CACHE_REDIS_URL=REDIS_URL,
                      CACHE_KEY_PREFIX=f"harbour-test-{os.getpid()}:")
    cache.init_app(app, config=config)
    with app.app_context():
        cache.clear()
    pagecache._stamp_memo = None  # another test's data
    yield
    with app.app_context():
        cache.clear()
    cache.init_app(app, config={"CACHE_TYPE": "NullCache", "CACHE_NO_NULL_WARNING": True})


@pytest.fixture
def hub():
    hub = make_hub(make_chapter("pc"), "cache-hub")
    make_event(hub, title_en="PUBLIC-EVENT", starts_at=utcnow() + timedelta(days=3))
    make_event(hub, title_en="MEMBERS-SECRET-EVENT", audience=Audience.MEMBERS,
               starts_at=utcnow() + timedelta(days=4))
    return hub


def text_of(client, url, **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def member_client(app, hub):
    member = make_user("cache-member@example.org", display_name="Cache Member")
    make_membership(member, hub)
    return login_as(app.test_client(), member)


def test_a_visitor_never_gets_the_members_page_and_back(app, page_cache, hub):
    member = member_client(app, hub)
    for first, second in (("member", "visitor"), ("visitor", "member")):
        cache.clear()
        pages = {}
        for who in (first, second, first, second):
            client = member if who == "member" else app.test_client()
            pages.setdefault(who, []).append(text_of(client, "/hubs/cache-hub"))
        for page in pages["member"]:
            assert "MEMBERS-SECRET-EVENT" in page and "Sign out" in page
        for page in pages["visitor"]:
            assert "PUBLIC-EVENT" in page
            assert "MEMBERS-SECRET-EVENT" not in page and "Sign out" not in page


def test_a_visitor_is_served_from_the_cache_with_a_token_of_their_own(app, page_cache, hub):
    first, second = app.test_client(), app.test_client()
    page = first.get("/events")
    with counted() as statements:
        again = second.get("/events")
    # No SQL at all: the page comes from the cache, the stamp from the worker's memo.
    assert not [s for s in statements if s.lstrip().startswith("SELECT")], statements
    assert again.get_data(as_text=True).count("PUBLIC-EVENT") == 1
    mine, theirs = csrf_token(page), csrf_token(again)
    assert mine != theirs
    assert "\x00" not in again.get_data(as_text=True)
    # The token in the cached page is the second visitor's own: the form works.
    switched = second.post("/language", data={"csrf_token": theirs, "locale": "zh_Hant_HK",
                                              "next": "/events"})
    assert switched.status_code == 302
    # ... and its language is a page of its own.
    assert 'lang="zh-Hant-HK"' in text_of(second, "/events")
    assert 'lang="en"' in text_of(first, "/events")


def test_each_english_region_gets_its_own_dates_from_the_cache(app, page_cache):
    hub = make_hub(make_chapter("pr"), "region-hub")
    make_event(hub, title_en="REGION-EVENT", starts_at=datetime(2099, 12, 9, 18, 0, tzinfo=UTC))
    for _ in range(2):  # the second round is served from the cache
        british = text_of(app.test_client(), "/hubs/region-hub",
                          headers={"Accept-Language": "en-GB"})
        american = text_of(app.test_client(), "/hubs/region-hub",
                           headers={"Accept-Language": "en-US"})
        assert "9 December 2099" in british and "December 9, 2099" not in british
        assert "December 9, 2099" in american


def test_nothing_is_kept_for_a_signed_in_member(app, page_cache, hub):
    member = member_client(app, hub)
    text_of(member, "/events")
    with counted() as statements:
        text_of(member, "/events")
    selects = [s for s in statements if s.lstrip().startswith("SELECT")]
    assert len(selects) > 2  # built again: nothing of a member's request is kept


def test_a_flashed_message_is_shown_to_its_visitor_only(app, page_cache, hub):
    visitor = app.test_client()
    text_of(visitor, "/")  # cached for visitors
    with visitor.session_transaction() as session:
        session["_flashes"] = [("info", "FLASH-FOR-THIS-VISITOR")]
    assert "FLASH-FOR-THIS-VISITOR" in text_of(visitor, "/")
    assert "FLASH-FOR-THIS-VISITOR" not in text_of(app.test_client(), "/")
    assert "FLASH-FOR-THIS-VISITOR" not in text_of(visitor, "/")  # shown once


def test_a_newly_published_event_shows_at_once(app, page_cache, hub):
    """Invalidation, not only expiry: the content stamp moves with the new event."""
    visitor = app.test_client()
    for url in ("/events", "/", "/hubs/cache-hub", "/chapters/pc", "/events.atom",
                "/hubs/cache-hub/events.ics"):
        assert "BRAND-NEW-EVENT" not in text_of(visitor, url)
    make_event(hub, title_en="BRAND-NEW-EVENT", starts_at=utcnow() + timedelta(days=2))
    for url in ("/events", "/", "/hubs/cache-hub", "/chapters/pc", "/events.atom",
                "/hubs/cache-hub/events.ics"):
        assert "BRAND-NEW-EVENT" in text_of(visitor, url), url


def test_calendar_answers_304_until_the_hub_changes(app, page_cache, hub):
    reader = app.test_client()
    first = reader.get("/hubs/cache-hub/events.ics")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.headers["Cache-Control"] == "no-cache"
    again = reader.get("/hubs/cache-hub/events.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    by_date = reader.get("/hubs/cache-hub/events.ics", headers={"If-Modified-Since": modified})
    assert by_date.status_code == 304
    feed = reader.get("/events.atom")
    assert reader.get("/events.atom", headers={"If-None-Match": feed.headers["ETag"]}) \
        .status_code == 304

    event = make_event(hub, title_en="CHANGED-EVENT", starts_at=utcnow() + timedelta(days=5))
    changed = reader.get("/hubs/cache-hub/events.ics", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and b"CHANGED-EVENT" in changed.get_data()
    event.title_en = "RENAMED-EVENT"
    db.session.flush()
    renamed = reader.get("/hubs/cache-hub/events.ics",
                         headers={"If-None-Match": changed.headers["ETag"]})
    assert renamed.status_code == 200 and b"RENAMED-EVENT" in renamed.get_data()


def issue_link(client) -> str:
    page = client.get("/account/calendar")
    response = client.post("/account/calendar", data={"csrf_token": csrf_token(page)})
    return re.search(r"https://harbour\.test(/calendar/[A-Za-z0-9_-]+\.ics)",
                     response.get_data(as_text=True)).group(1)


def test_a_personal_calendar_is_never_served_to_another_token(app, page_cache, hub):
    alice, bob = make_user("alice@example.org"), make_user("bob@example.org")
    make_rsvp(make_event(hub, title_en="ALICE-ONLY"), alice, RsvpStatus.GOING)
    make_rsvp(make_event(hub, title_en="BOB-ONLY"), bob, RsvpStatus.GOING)
    alice_path = issue_link(login_as(app.test_client(), alice))
    bob_path = issue_link(login_as(app.test_client(), bob))
    reader = app.test_client()
    alices = reader.get(alice_path)
    assert b"ALICE-ONLY" in alices.get_data() and b"BOB-ONLY" not in alices.get_data()
    assert alices.headers["Cache-Control"] == "private, no-cache"
    assert reader.get(alice_path, headers={"If-None-Match": alices.headers["ETag"]}) \
        .status_code == 304
    # Bob's link with Alice's ETag: Bob's own calendar, never a 304 to Alice's.
    bobs = reader.get(bob_path, headers={"If-None-Match": alices.headers["ETag"]})
    assert bobs.status_code == 200
    assert b"BOB-ONLY" in bobs.get_data() and b"ALICE-ONLY" not in bobs.get_data()
    # Nothing personal went into the shared cache.
    with app.app_context():
        kept = cache.cache._cache if hasattr(cache.cache, "_cache") else {}
    assert not any(b"ONLY" in repr(value).encode() for value in kept.values())


def test_cached_pages_and_feeds_keep_the_hubs_robots_answer(app, page_cache):
    hidden = make_hub(make_chapter("pr"), "robots-hub", noindex=True)
    make_event(hidden, title_en="ROBOTS-EVENT")
    shown = make_hub(make_chapter("ps"), "shown-hub")
    for url in ("/hubs/robots-hub", "/hubs/robots-hub/events.ics", "/hubs/robots-hub/events.atom"):
        for _ in range(2):  # built, then from the cache
            response = app.test_client().get(url)
            assert response.headers.get("X-Robots-Tag") == "noindex, nofollow", url
    for url in (f"/hubs/{shown.slug}", f"/hubs/{shown.slug}/events.ics"):
        for _ in range(2):
            assert "X-Robots-Tag" not in app.test_client().get(url).headers, url


def test_pages_are_served_when_the_cache_cannot_be_reached(app, hub, caplog):
    """Redis down (a restart, a full disk): visitors get their pages, built afresh,
    and the log says so without the cache's address."""
    cache.init_app(app, config={"CACHE_TYPE": "RedisCache",
                                "CACHE_REDIS_URL": "redis://127.0.0.1:1/0"})
    pagecache._stamp_memo = None
    try:
        client = app.test_client()
        for url in ("/events", "/hubs/cache-hub", "/hubs/cache-hub/events.ics"):
            response = client.get(url)
            assert response.status_code == 200, url
        assert "PUBLIC-EVENT" in text_of(client, "/events")
    finally:
        cache.init_app(app, config={"CACHE_TYPE": "NullCache", "CACHE_NO_NULL_WARNING": True})
    warnings = [record.getMessage() for record in caplog.records
                if "page cache unavailable" in record.getMessage()]
    assert warnings and all("127.0.0.1" not in line for line in warnings)
