"""The home page as a visitor sees it, with and without JavaScript, in both languages."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from babel.support import Translations
from playwright.sync_api import expect

from community.cli import EVENT_IDEAS
from community.config import PROJECT_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.no_db]

CHINESE = Translations.load(str(PROJECT_ROOT / "translations"), ["zh_Hant_HK"])

EXPECTED = {
    "en": {
        "lang": "en",
        "h1": "Harbour",
        "upcoming": "Upcoming public events",
        "hubs": "Hubs by chapter",
        "event_titles": {idea[0] for idea in EVENT_IDEAS},
        "chapter": "United Kingdom",
        "chapter_hubs": ["Hongkongers in London", "Hongkongers in Manchester"],
        "other_hub": "Hongkongers in Sydney",
    },
    "zh_Hant_HK": {
        "lang": "zh-Hant-HK",
        "h1": CHINESE.gettext("Harbour"),
        "upcoming": CHINESE.gettext("Upcoming public events"),
        "hubs": CHINESE.gettext("Hubs by chapter"),
        "event_titles": {idea[1] for idea in EVENT_IDEAS},
        "chapter": "英國",
        "chapter_hubs": ["倫敦香港人", "曼徹斯特香港人"],
        "other_hub": "悉尼香港人",
    },
}
LOCALES = list(EXPECTED)


def test_the_chinese_catalogue_translates_the_home_page_headings():
    # Guards the expectations above: a missing translation would make both columns English.
    for msgid in ("Upcoming public events", "Hubs by chapter"):
        assert CHINESE.gettext(msgid) != msgid
    assert CHINESE.gettext("Upcoming public events") == "即將舉行嘅公開活動"


def assert_home_page_content(page, locale: str) -> None:
    want = EXPECTED[locale]
    expect(page.locator("html")).to_have_attribute("lang", want["lang"])
    expect(page.get_by_role("heading", level=1)).to_have_text(want["h1"])

    upcoming = page.locator("section[aria-labelledby='upcoming-heading']")
    expect(upcoming.get_by_role("heading", level=2)).to_have_text(want["upcoming"])
    titles = upcoming.get_by_role("heading", level=3).all_inner_texts()
    assert titles, "no upcoming events listed"
    # Other browser tests add events of their own to the shared server; the
    # demo events among the titles are all in this page's language.
    demo = {title for expected in EXPECTED.values() for title in expected["event_titles"]}
    shown = set(titles) & demo
    assert shown and shown <= want["event_titles"], titles

    hubs = page.locator("section[aria-labelledby='hubs-heading']")
    expect(hubs.get_by_role("heading", level=2)).to_have_text(want["hubs"])
    # A chapter heading is followed by the list of its own hubs, and only those.
    chapter_list = hubs.locator(f"h3:has(a:text-is('{want['chapter']}')) + ul.hub-list")
    expect(chapter_list).to_have_count(1)
    listed = chapter_list.inner_text()
    for hub_name in want["chapter_hubs"]:
        assert hub_name in listed
    assert want["other_hub"] not in listed
    expect(hubs).to_contain_text(want["other_hub"])


@pytest.mark.parametrize("locale", LOCALES)
def test_home_page_without_javascript(no_js_page, locale):
    visited = no_js_page("/", locale)

    assert visited.status == 200
    assert_home_page_content(visited.page, locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_home_page_with_javascript_is_self_contained_and_accessible(check_page, locale):
    visited = check_page("/", locale)

    assert visited.status == 200
    assert_home_page_content(visited.page, locale)
    assert any(url.endswith(".css") for url in visited.requests), "stylesheet not loaded"


def test_language_switch_works_without_javascript(no_js_page):
    visited = no_js_page("/", "en")
    page = visited.page
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_role("button", name="中文（香港）").click()

    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant-HK")
    assert urlsplit(page.url).path == "/"
    assert_home_page_content(page, "zh_Hant_HK")

    # The choice outlives the page, though the browser still asks for English...
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant-HK")

    # ...and the switch leads back.
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert_home_page_content(page, "en")
