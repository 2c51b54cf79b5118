"""Issue 15 in a real browser: long words never widen a page (390 px), the
focus ring is visible (3:1), and the new-event form is short by default."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from community.auth.models import User
from community.encryption import blind_index
from community.extensions import db

pytestmark = [pytest.mark.browser, pytest.mark.no_db]

PHONE = {"width": 390, "height": 844}
LONG_WORD = "Harbour" + "x" * 193  # 200 characters, no break opportunity


@pytest.fixture(scope="module")
def long_content(live_server):
    """A chapter, hub, event and update whose names are one 200-character word."""
    from community import factories
    from community.hubs.models import Chapter

    with live_server.app.app_context():
        if db.session.scalar(select(Chapter).where(Chapter.code == "lw")) is None:
            chapter = factories.make_chapter("lw", name_en=LONG_WORD, name_zh=LONG_WORD)
            hub = factories.make_hub(chapter, "long-words", name_en=LONG_WORD,
                                     name_zh=LONG_WORD, city_en=LONG_WORD,
                                     description_en=f"See https://example.org/{LONG_WORD}")
            factories.make_event(hub, title_en=LONG_WORD, title_zh=LONG_WORD,
                                 venue=LONG_WORD, description_en=LONG_WORD)
            factories.make_update(hub, title_en=LONG_WORD, body_en=LONG_WORD)
            db.session.commit()
        from community.events.models import Event
        from community.updates.models import Update

        event = db.session.scalar(select(Event.public_id).where(Event.title_en == LONG_WORD))
        update = db.session.scalar(select(Update.public_id).where(Update.title_en == LONG_WORD))
        return {"event": event, "update": update}


def page_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


@pytest.mark.parametrize("viewport", [PHONE, {"width": 1280, "height": 900}],
                         ids=["390px", "1280px"])
@pytest.mark.parametrize("locale", ["en", "zh_Hant_HK"])
def test_long_words_do_not_widen_pages(long_content, new_context, locale, viewport):
    page = new_context(locale).new_page()
    page.set_viewport_size(viewport)
    paths = ["/", "/events", "/hubs", "/hubs/long-words", "/chapters/lw",
             f"/events/{long_content['event']}", f"/updates/{long_content['update']}"]
    wide = {}
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        width = page_width(page)
        if width > viewport["width"]:
            wide[path] = width
    assert wide == {}, f"pages wider than {viewport['width']} px: {wide}"


def _admin_page(live_server, new_context):
    email = "admin@example.org"
    with live_server.app.app_context():
        user = db.session.scalar(select(User).where(User.email_index == blind_index(email)))
        user.totp_secret = user.totp_secret or pyotp.random_base32()
        user.totp_last_timecode = None
        db.session.commit()
        secret = user.totp_secret
    page = new_context("en").new_page()
    page.goto("/sign-in")
    page.fill("#email", email)
    page.fill("#password", live_server.password)
    page.locator("main button[type=submit]").click()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.locator("main button[type=submit]").click()
    return page


def test_the_admin_chart_and_tables_fit_a_phone(live_server, long_content, new_context):
    page = _admin_page(live_server, new_context)
    page.set_viewport_size(PHONE)
    assert page.goto("/admin/").status == 200
    assert page_width(page) <= PHONE["width"]
    chart = page.locator("main img").first.bounding_box()
    assert chart["width"] <= PHONE["width"]
    for path in ("/admin/hubs", "/admin/chapters", "/admin/audit"):
        assert page.goto(path).status == 200
        assert page_width(page) <= PHONE["width"], path


# --- the focus ring ---------------------------------------------------------------

CONTRAST = """
(element) => {
  const parse = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const channel = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const style = getComputedStyle(element);
  // The colour behind the ring: the first ancestor with an opaque background.
  let node = element.parentElement, behind = [255, 255, 255];
  while (node) {
    const rgba = parse(getComputedStyle(node).backgroundColor);
    if (rgba.length >= 3 && (rgba.length === 3 || rgba[3] > 0)) {
      behind = rgba.slice(0, 3);
      break;
    }
    node = node.parentElement;
  }
  const ring = parse(style.outlineColor).slice(0, 3);
  const [a, b] = [luminance(ring), luminance(behind)].sort((x, y) => y - x);
  return {style: style.outlineStyle, width: parseFloat(style.outlineWidth),
          ratio: (a + 0.05) / (b + 0.05), ring: style.outlineColor};
}
"""


@pytest.mark.parametrize("locale", ["en", "zh_Hant_HK"])
def test_the_focus_ring_has_3_to_1_contrast_wherever_the_keyboard_goes(new_context, locale):
    page = new_context(locale).new_page()
    page.goto("/hubs/london")
    seen = 0
    for _ in range(25):  # the skip link, the header, then the page's own links and buttons
        page.keyboard.press("Tab")
        focused = page.evaluate_handle("() => document.activeElement")
        if page.evaluate("(el) => el === document.body", focused):
            break
        ring = page.evaluate(CONTRAST, focused)
        label = page.evaluate("(el) => el.outerHTML.slice(0, 80)", focused)
        assert ring["style"] != "none" and ring["width"] >= 2, label
        assert ring["ratio"] >= 3, f"{label}: {ring}"
        seen += 1
    assert seen >= 10


# --- the new-event form -----------------------------------------------------------

def _lead_page(live_server, new_context, *, javascript=True):
    email = "lead.london@example.org"
    with live_server.app.app_context():
        user = db.session.scalar(select(User).where(User.email_index == blind_index(email)))
        user.totp_secret = user.totp_secret or pyotp.random_base32()
        user.totp_last_timecode = None
        db.session.commit()
        secret = user.totp_secret
    page = new_context("en", javascript=javascript).new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/sign-in")
    page.fill("#email", email)
    page.fill("#password", live_server.password)
    page.locator("main button[type=submit]").click()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.locator("main button[type=submit]").click()
    return page


def test_the_new_event_form_is_short_and_its_hints_match_the_browser(live_server, new_context):
    page = _lead_page(live_server, new_context)
    assert page.goto("/hubs/london/events/new").status == 200
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height <= 2300, f"{height} px tall"  # it was 4,636 px
    # Repeat is one click from the dates, not at the very bottom.
    repeat = page.locator("summary", has_text="Repeat")
    place = page.locator("legend", has_text="Place")
    assert repeat.bounding_box()["y"] < place.bounding_box()["y"]
    # The browser (en-GB) shows dd/mm/yyyy and a 24-hour clock: the hints give
    # a day and a time as written here, never the ISO form the browser sends.
    date_hint = page.locator("#start_date-hint").inner_text()
    time_hint = page.locator("#start_time-hint").inner_text()
    assert "2031-03-30" not in date_hint and "30 March 2031" in date_hint
    assert "19:30" in time_hint


def test_the_folded_parts_of_the_form_work_without_javascript(live_server, new_context):
    page = _lead_page(live_server, new_context, javascript=False)
    assert page.goto("/hubs/london/events/new").status == 200
    assert not page.locator("#repeat_count").is_visible()
    page.locator("summary", has_text="Repeat").click()
    assert page.locator("#repeat_count").is_visible()
    page.fill("#title_en", "Folded form walk")
    page.fill("#start_date", "2031-03-30")
    page.fill("#start_time", "10:00")
    page.fill("#end_date", "2031-03-30")
    page.fill("#end_time", "12:00")
    page.fill("#repeat_count", "2")
    page.locator("main form button[type=submit]", has_text="Save as a draft").click()
    assert "/edit" in page.url, page.url
    # A field with an error inside a folded group opens its group.
    page.goto("/hubs/london/events/new")
    page.locator("summary", has_text="Who can come").click()
    page.fill("#capacity", "-5")
    page.fill("#title_en", "Bad capacity")
    page.fill("#start_date", "2031-04-30")
    page.fill("#start_time", "10:00")
    page.fill("#end_date", "2031-04-30")
    page.fill("#end_time", "12:00")
    page.locator("main form button[type=submit]", has_text="Save as a draft").click()
    assert page.locator("#capacity").is_visible()


@pytest.mark.parametrize("locale", ["en", "zh_Hant_HK"])
def test_on_a_phone_the_first_event_is_on_the_first_screen(live_server, new_context, locale):
    """Issue 15 (12): at 390 px, with JavaScript off, the first event shows
    before any scrolling; the filters wait behind one folded control."""
    context = new_context(locale, javascript=False)
    page = context.new_page()
    page.set_viewport_size(PHONE)
    page.goto("/events")
    first = page.locator("li.card").first
    box = first.bounding_box()
    assert box is not None, "no event listed"
    assert box["y"] < PHONE["height"], f"first event starts at {box['y']} px"
    filters = page.locator("details.filters")
    assert filters.count() == 1 and not filters.evaluate("node => node.open")
    # Opened without JavaScript, the filters are there to use.
    filters.locator("summary").click()
    assert filters.evaluate("node => node.open")
    assert page.locator("details.filters select").first.is_visible()
