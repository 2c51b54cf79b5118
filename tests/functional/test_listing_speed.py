"""Issue 14: lists that cost the same on page 1 and page 500 — a count that stops at
a cap, keyset pages past it — and the window of upcoming lists."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from community import pagination
from community.database import utcnow
from community.events.models import LISTED_AFTER_START
from community.factories import make_chapter, make_event, make_hub


@pytest.fixture
def small_cap(monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 40)


def titles(html: str) -> list[str]:
    return re.findall(r">(CAP-\d+)<", html)


def test_long_lists_say_more_than_the_cap_and_go_on_by_keyset(client, small_cap):
    hub = make_hub(make_chapter("kc"), "keyset-hub")
    start = datetime(2099, 1, 1, 12, tzinfo=UTC)
    for n in range(45):
        # Two events at each time: the id breaks the tie, so none is skipped or repeated.
        make_event(hub, title_en=f"CAP-{n:02d}", starts_at=start + timedelta(hours=n // 2))

    first = client.get("/events?hub=keyset-hub").get_data(as_text=True)
    assert "More than 40 events found" in first
    assert titles(first) == [f"CAP-{n:02d}" for n in range(20)]
    assert "Page 1 of 2" in first

    last = client.get("/events?hub=keyset-hub&page=2").get_data(as_text=True)
    assert titles(last) == [f"CAP-{n:02d}" for n in range(20, 40)]
    later = re.search(r'href="(/events\?[^"]*after=[^"]+)"[^>]*>Later events<', last)
    assert later, "the last numbered page offers the later events"
    assert "hub=keyset-hub" in later.group(1)

    rest = client.get(later.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert titles(rest) == [f"CAP-{n:02d}" for n in range(40, 45)]
    assert "Later events<" not in rest
    assert "First page" in rest
    # A page number past the end shows the last numbered page, as before.
    assert titles(client.get("/events?hub=keyset-hub&page=999").get_data(as_text=True)) \
        == [f"CAP-{n:02d}" for n in range(20, 40)]


def test_short_lists_keep_an_exact_count_and_an_unknown_cursor_is_page_one(client, small_cap):
    hub = make_hub(make_chapter("kd"), "short-hub")
    for n in range(3):
        make_event(hub, title_en=f"CAP-{n:02d}",
                   starts_at=datetime(2099, 2, 1, 12, tzinfo=UTC) + timedelta(hours=n))
    page = client.get("/events?hub=short-hub").get_data(as_text=True)
    assert "3 events found" in page
    assert "Later events<" not in page
    page = client.get("/events?hub=short-hub&after=nosuchevent").get_data(as_text=True)
    assert titles(page) == ["CAP-00", "CAP-01", "CAP-02"]
    assert client.get("/events?after=" + "x" * 500).status_code == 200


def test_a_hidden_events_id_as_cursor_shows_nothing_of_its_time(client, small_cap):
    """``after=`` with a members-only event's id is an unknown cursor: which public
    events come after it would tell when it starts (DESIGN §2)."""
    from community.events.models import Audience

    hub = make_hub(make_chapter("kh"), "hidden-cursor-hub")
    start = datetime(2099, 3, 1, 12, tzinfo=UTC)
    for n in range(3):
        make_event(hub, title_en=f"CAP-{n:02d}", starts_at=start + timedelta(hours=n))
    secret = make_event(hub, title_en="SECRET", audience=Audience.MEMBERS,
                        starts_at=start + timedelta(hours=1, minutes=30))
    page = client.get(f"/events?hub=hidden-cursor-hub&after={secret.public_id}")
    assert titles(page.get_data(as_text=True)) == ["CAP-00", "CAP-01", "CAP-02"]


def test_upcoming_lists_keep_events_running_now_within_the_window(client):
    hub = make_hub(make_chapter("kw"), "window-hub")
    now = utcnow()
    make_event(hub, title_en="CAP-01", starts_at=now - timedelta(days=2),
               ends_at=now + timedelta(days=1))
    make_event(hub, title_en="CAP-02", starts_at=now - LISTED_AFTER_START - timedelta(days=1),
               ends_at=now + timedelta(days=1))
    make_event(hub, title_en="CAP-03", starts_at=now - timedelta(days=1),
               ends_at=now - timedelta(hours=1))
    for url in ("/events?hub=window-hub", "/hubs/window-hub", "/chapters/kw"):
        assert titles(client.get(url).get_data(as_text=True)) == ["CAP-01"], url


# --- the events page: headings, folded filters, a short list of zones --------------------

def test_events_page_lists_first_with_filters_folded_and_headings_in_order(client):
    chapter = make_chapter("kh", default_timezone="Europe/London")
    hub = make_hub(chapter, "heading-hub")
    for n in range(20):
        make_event(hub, title_en=f"CAP-{n:02d}", title_zh="",
                   starts_at=datetime(2099, 3, 1, tzinfo=UTC) + timedelta(hours=n))
    response = client.get("/events")
    html = response.get_data(as_text=True)
    levels = [int(level) for level in re.findall(r"<h([1-6])\b", html)]
    assert levels[0] == 1 and all(b - a <= 1 for a, b in pairwise(levels)), levels
    # One folded control, closed, saying no filter is on; the list follows it.
    assert html.count("<details") == 1
    assert re.search(r'<details class="filters">\s*<summary>Filters: none', html)
    assert html.index("</details>") < html.index("CAP-00")
    # The zones that matter, not hundreds of them.
    zone_select = re.search(r'<select id="tz" name="tz">(.*?)</select>', html, re.S).group(1)
    assert zone_select.count("<option") < 12
    assert 'value="Europe/London"' in zone_select and 'value="UTC"' in zone_select
    assert "<datalist" not in html
    assert len(response.get_data()) < 30 * 1024


def test_the_summary_names_the_filters_that_are_on(client):
    make_chapter("ks", name_en="Scotland Chapter")
    html = client.get("/events?chapter=ks&language=yue&mode=online&tz=Asia/Tokyo") \
        .get_data(as_text=True)
    summary = re.search(r"<summary>(.*?)</summary>", html, re.S).group(1)
    assert "Scotland Chapter" in summary and "Cantonese" in summary
    assert "Online" in summary and "Asia/Tokyo" in summary
    # A zone chosen outside the short list stays selected.
    assert '<option value="Asia/Tokyo" selected>' in html


def test_a_typed_zone_is_checked_and_becomes_the_lists_zone(client):
    response = client.get("/events?chapter=&tz=&tz_other=asia/hong kong")
    assert response.status_code == 302
    assert "tz=Asia/Hong_Kong" in response.headers["Location"]
    assert "tz_other" not in response.headers["Location"]
    refused = client.get("/events?tz_other=Mars/Olympus_Mons")
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "We do not know that time zone" in html
    assert '<details class="filters" open>' in html
    assert 'aria-invalid="true"' in html and 'value="Mars/Olympus_Mons"' in html
    chinese = client.get("/events?tz_other=Mars", headers={"Accept-Language": "zh-HK"})
    assert chinese.status_code == 400
    assert "We do not know" not in chinese.get_data(as_text=True)
