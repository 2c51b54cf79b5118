"""The home page: upcoming public events and hubs by chapter, in both languages."""

import re
from datetime import UTC, datetime, timedelta

from community.database import utcnow
from community.events.models import Audience, EventStatus
from community.factories import make_chapter, make_event, make_hub
from community.hubs.models import HubStatus, HubVisibility


def test_home_lists_upcoming_public_events_and_hides_private_ones(client):
    chapter = make_chapter("uk", name_en="United Kingdom", name_zh="英國")
    hub = make_hub(chapter, "london", name_en="Hongkongers in London", name_zh="倫敦香港人")
    hidden_hub = make_hub(chapter, "quiet", visibility=HubVisibility.UNLISTED)
    pending_hub = make_hub(chapter, "new-one", status=HubStatus.PENDING)
    make_event(hub, title_en="MARKER-public-upcoming")
    make_event(hub, title_en="MARKER-members", audience=Audience.MEMBERS)
    make_event(hub, title_en="MARKER-draft", status=EventStatus.DRAFT)
    make_event(hub, title_en="MARKER-past", starts_at=utcnow() - timedelta(days=3))
    make_event(hidden_hub, title_en="MARKER-unlisted-hub")
    make_event(pending_hub, title_en="MARKER-pending-hub")

    page = client.get("/").get_data(as_text=True)

    assert "MARKER-public-upcoming" in page
    for marker in ("members", "draft", "past", "unlisted-hub", "pending-hub"):
        assert f"MARKER-{marker}" not in page
    assert "Hongkongers in London" in page
    assert "United Kingdom" in page


def test_home_orders_events_soonest_first(client):
    hub = make_hub()
    make_event(hub, title_en="MARKER-later", starts_at=utcnow() + timedelta(days=20))
    make_event(hub, title_en="MARKER-sooner", starts_at=utcnow() + timedelta(days=2))
    page = client.get("/").get_data(as_text=True)
    assert page.index("MARKER-sooner") < page.index("MARKER-later")


def test_home_shows_time_in_the_events_zone_in_chinese(client):
    chapter = make_chapter("au", default_timezone="Australia/Sydney")
    hub = make_hub(chapter, "sydney", name_zh="悉尼香港人")
    # 07:00 UTC on 4 Dec 2030 is 18:00 in Sydney (daylight saving, UTC+11).
    make_event(hub, title_zh="電影夜", starts_at=datetime(2030, 12, 4, 7, 0, tzinfo=UTC))

    page = client.get("/", headers={"Accept-Language": "zh-HK"}).get_data(as_text=True)

    assert '<html lang="zh-Hant-HK">' in page
    assert "即將舉行嘅公開活動" in page
    assert "電影夜" in page and "悉尼香港人" in page
    assert "2030年12月4日" in page and "下午6:00" in page and "AEDT" in page


def test_home_falls_back_to_the_other_language_and_says_so(client):
    hub = make_hub(name_zh="")
    make_event(hub, title_en="English only talk", title_zh="")
    page = client.get("/", headers={"Accept-Language": "zh-HK"}).get_data(as_text=True)
    assert re.search(r'<h3 lang="en"><a href="/events/[\w-]+">English only talk</a></h3>', page)
    assert "只有英文版本" in page  # names the language shown (issue 15)


def test_home_has_friendly_empty_states(client):
    page = client.get("/").get_data(as_text=True)
    assert "No public events are planned yet" in page


def test_home_runs_a_fixed_number_of_queries(client, app):
    """No N+1: adding events and hubs does not add queries."""
    from sqlalchemy import event as sa_event

    from community.extensions import db

    def count_queries() -> int:
        statements = []

        def record(*_args, **_kwargs):
            statements.append(1)

        engine = db.session.get_bind()
        sa_event.listen(engine, "before_cursor_execute", record)
        try:
            assert client.get("/").status_code == 200
        finally:
            sa_event.remove(engine, "before_cursor_execute", record)
        return len(statements)

    hub = make_hub()
    make_event(hub)
    few = count_queries()
    for _ in range(8):
        make_event(make_hub())
    assert count_queries() == few
