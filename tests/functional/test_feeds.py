"""Atom feeds of public updates and events (issue 6 item 4, R4, R3)."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import feedparser
import pytest

from community.database import utcnow
from community.events.models import Audience, EventStatus, Tier
from community.factories import make_chapter, make_event, make_hub, make_update
from community.hubs.models import HubStatus, HubVisibility
from community.updates.models import UpdateAudience, UpdateStatus

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.fixture
def site():
    chapter = make_chapter("fd", name_en="Feedland", name_zh="飼料地")
    hub = make_hub(chapter, "feed-hub", name_en="Feed Hub", name_zh="飼料小組")
    unlisted = make_hub(chapter, "feed-unlisted", visibility=HubVisibility.UNLISTED,
                        name_en="UNLISTEDHUB-MARKER")
    pending = make_hub(chapter, "feed-pending", status=HubStatus.PENDING,
                       name_en="PENDINGHUB-MARKER")
    public_update = make_update(hub, title_en="PUBLIC-UPDATE", title_zh="公開消息",
                                body_en="Hello **world** <script>alert(1)</script>")
    chapter_update = make_update(chapter=chapter, title_en="CHAPTER-UPDATE", title_zh="")
    event = make_event(hub, title_en="PUBLIC-EVENT", title_zh="", timezone="Europe/London",
                       venue="VENUE-MARKER", address="ADDRESS-MARKER",
                       location_visibility=Tier.PUBLIC,
                       online_url="https://meet.example/ONLINE-MARKER",
                       online_visibility=Tier.PUBLIC)
    secrets = [
        make_update(hub, title_en="MEMBERSONLY-UPDATE", audience=UpdateAudience.MEMBERS),
        make_update(hub, title_en="DRAFT-UPDATE", status=UpdateStatus.DRAFT),
        make_update(unlisted, title_en="UNLISTED-UPDATE"),
        make_update(pending, title_en="PENDING-UPDATE"),
        make_event(hub, title_en="MEMBERSONLY-EVENT", audience=Audience.MEMBERS),
        make_event(hub, title_en="INVITE-EVENT", audience=Audience.INVITE),
        make_event(hub, title_en="DRAFT-EVENT", status=EventStatus.DRAFT),
        make_event(unlisted, title_en="UNLISTED-EVENT"),
        make_event(pending, title_en="PENDING-EVENT"),
    ]
    return {"chapter": chapter, "hub": hub, "unlisted": unlisted, "event": event,
            "public_update": public_update, "chapter_update": chapter_update,
            "secrets": secrets}


FEEDS = ["/updates.atom", "/events.atom", "/hubs/feed-hub/updates.atom",
         "/hubs/feed-hub/events.atom", "/chapters/fd/updates.atom", "/chapters/fd/events.atom"]


def parsed(client, url, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == 200, url
    assert response.mimetype == "application/atom+xml"
    # Kept by feed readers, revalidated by ETag each time (issue 14).
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["ETag"]
    feed = feedparser.parse(response.get_data())
    assert not feed.bozo, (url, feed.get("bozo_exception"))
    return feed, response.get_data(as_text=True)


@pytest.mark.parametrize("url", FEEDS)
def test_every_feed_is_valid_atom(client, site, url):
    feed, text = parsed(client, url)
    assert feed.version == "atom10"
    assert feed.feed.title
    assert feed.feed.id.startswith("tag:harbour.test,")
    assert RFC3339.match(feed.feed.updated)
    assert feed.entries, url
    for entry in feed.entries:
        assert entry.id.startswith("tag:harbour.test,")
        assert entry.link.startswith("https://harbour.test/")
        assert RFC3339.match(entry.updated) and RFC3339.match(entry.published)
    assert '<?xml version' in text


def test_update_feed_links_back_and_carries_language(client, site):
    feed, text = parsed(client, "/hubs/feed-hub/updates.atom")
    assert feed.feed.title == "Updates from Feed Hub"
    assert feed.feed.language == "en"
    [entry] = feed.entries
    assert entry.title == "PUBLIC-UPDATE"
    assert entry.id.endswith(f"update/{site['public_update'].public_id}")
    assert site["public_update"].public_id in entry.link
    assert "<strong>world</strong>" in entry.content[0].value
    assert "<script" not in entry.content[0].value
    assert "<script" not in text  # escaped HTML only, never live markup


def test_chinese_feed_marks_each_entry_with_its_language(client, site):
    feed, text = parsed(client, "/chapters/fd/updates.atom",
                        headers={"Accept-Language": "zh-HK"})
    assert 'xml:lang="zh-Hant-HK"' in text.split("<entry", 1)[0]
    assert "飼料地" in feed.feed.title  # the chapter's Chinese name
    by_title = {e.title: e for e in feed.entries}
    # The chapter's update has no Chinese title, so it is written (and marked) in English.
    assert by_title["CHAPTER-UPDATE"].title_detail.language == "en"
    assert by_title["公開消息"].title_detail.language == "zh-Hant-HK"


def test_event_entry_has_title_time_in_its_zone_and_link_but_no_place(client, site):
    feed, text = parsed(client, "/hubs/feed-hub/events.atom")
    [entry] = feed.entries
    event = site["event"]
    assert entry.title == "PUBLIC-EVENT"
    assert entry.link == f"https://harbour.test/events/{event.public_id}"
    assert entry.id.endswith(f"event/{event.public_id}")
    local = event.starts_at.astimezone(ZoneInfo("Europe/London"))
    assert local.strftime("%Z") in entry.summary
    assert "Feed Hub" in entry.summary
    for marker in ("VENUE-MARKER", "ADDRESS-MARKER", "ONLINE-MARKER"):
        assert marker not in text


def test_no_private_item_or_place_appears_in_any_feed(client, site):
    markers = ["MEMBERSONLY", "DRAFT", "UNLISTED", "PENDING", "INVITE",
               "VENUE-MARKER", "ADDRESS-MARKER", "ONLINE-MARKER"]
    for url in FEEDS:
        for lang in ("en", "zh-HK"):
            _feed, text = parsed(client, url, headers={"Accept-Language": lang})
            for marker in markers:
                assert marker not in text, (url, marker)


@pytest.mark.parametrize("url", ["/hubs/feed-unlisted/updates.atom",
                                 "/hubs/feed-unlisted/events.atom",
                                 "/hubs/feed-pending/updates.atom",
                                 "/hubs/no-such-hub/events.atom",
                                 "/chapters/zz/updates.atom", "/chapters/zz/events.atom"])
def test_feeds_of_hidden_or_missing_hubs_are_404(client, site, url):
    assert client.get(url).status_code == 404


def test_past_events_leave_the_feed_and_empty_feeds_stay_valid(client):
    hub = make_hub(make_chapter("em"), "empty-hub")
    make_event(hub, title_en="PAST-EVENT", starts_at=utcnow() - timedelta(days=3))
    feed, text = parsed(client, "/hubs/empty-hub/events.atom")
    assert feed.entries == [] and "PAST-EVENT" not in text
    feed, _text = parsed(client, "/hubs/empty-hub/updates.atom")
    assert feed.entries == []


def test_control_characters_and_markup_in_titles_stay_valid_xml(client):
    hub = make_hub(make_chapter("xc"), "xml-hub", name_en="A & B <Hub>")
    make_update(hub, title_en="Bell\x07 & <b>bold</b> ]]>", body_en="x\x0by")
    feed, text = parsed(client, "/hubs/xml-hub/updates.atom")
    assert feed.entries[0].title == "Bell & <b>bold</b> ]]>"
    assert feed.feed.title == "Updates from A & B <Hub>"
    assert "<b>bold" not in text
