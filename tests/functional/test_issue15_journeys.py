"""Issue 15: journeys without dead ends (language switch, honest promises, times)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import time_machine

from community.events.models import Tier
from community.extensions import db
from community.factories import make_event, make_hub, make_membership, make_rsvp, make_user
from tests.conftest import csrf_token, login_as, sign_in

HTML_LANG = re.compile(r'<html lang="([^"]+)">')


def text_of(response) -> str:
    """The page's visible text, tags removed and spaces collapsed."""
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(body))


# --- 1: the header's language switch, signed in, JavaScript off -------------------

def test_switching_language_in_the_header_changes_the_signed_in_account(client):
    user = make_user("switcher@example.org", locale="en")
    sign_in(client, "switcher@example.org")
    page = client.get("/events")
    assert HTML_LANG.search(page.get_data(as_text=True)).group(1) == "en"
    response = client.post("/language", data={"csrf_token": csrf_token(page),
                                              "locale": "zh_Hant_HK", "next": "/events"},
                           follow_redirects=True)
    body = response.get_data(as_text=True)
    assert HTML_LANG.search(body).group(1) == "zh-Hant-HK"
    assert "你個帳戶嘅語言而家係中文（香港）" in body  # the flash says what changed
    db.session.refresh(user)
    assert user.locale == "zh_Hant_HK"
    # The next page, with an English browser, stays Chinese.
    again = client.get("/", headers={"Accept-Language": "en"})
    assert HTML_LANG.search(again.get_data(as_text=True)).group(1) == "zh-Hant-HK"
    # And back to English.
    back = client.post("/language", data={"csrf_token": csrf_token(again), "locale": "en",
                                          "next": "/"}, follow_redirects=True)
    assert "Your account's language is now English" in text_of(back)
    db.session.refresh(user)
    assert user.locale == "en"


def test_switching_to_the_language_already_saved_says_nothing(client):
    make_user("same@example.org", locale="en")
    sign_in(client, "same@example.org")
    page = client.get("/", headers={"Accept-Language": "zh-HK"})
    response = client.post("/language", data={"csrf_token": csrf_token(page), "locale": "en",
                                              "next": "/"}, follow_redirects=True)
    assert "language is now" not in response.get_data(as_text=True)


# --- 4: promise only what the viewer will get -------------------------------------

def test_reveal_note_promises_each_viewer_only_what_they_will_get(app):
    hub = make_hub(slug="reveal-hub", timezone="Asia/Taipei")
    member = make_user("reveal-member@example.org")
    attendee = make_user("reveal-attendee@example.org")
    make_membership(member, hub)
    make_membership(attendee, hub)
    starts = datetime(2099, 3, 20, 10, 0, tzinfo=UTC)
    reveal = starts - timedelta(hours=24)
    event = make_event(hub, address="MARKER hall", location_visibility=Tier.ATTENDEES,
                       location_reveal_at=reveal, starts_at=starts)
    make_rsvp(event, attendee)
    pages = {}
    for name, user in (("visitor", None), ("member", member), ("attendee", attendee)):
        client = app.test_client()
        if user is not None:
            login_as(client, user)
        pages[name] = text_of(client.get(f"/events/{event.public_id}"))
    # Reveal: 19 March 2099 10:00 UTC = 18:00 in Taipei, labelled with an unambiguous zone.
    when = "Thursday, 19 March 2099, 18:00 GMT+8"
    assert f"The place will be shared on {when}." in pages["attendee"]
    for name in ("visitor", "member"):
        assert "will be shared on" not in pages[name], name
        assert f"The place will be shared with confirmed attendees from {when}." in pages[name]
    # On the day, the member indeed still does not see it, as promised.
    with time_machine.travel(reveal + timedelta(minutes=1), tick=False):
        client = login_as(app.test_client(), member)
        page = text_of(client.get(f"/events/{event.public_id}"))
        assert "MARKER" not in page and "The place is shared with confirmed attendees." in page


def test_members_tier_reveal_note_names_members(app):
    hub = make_hub(slug="reveal-members")
    event = make_event(hub, address="MARKER hall", location_visibility=Tier.MEMBERS,
                       location_reveal_at=datetime(2099, 1, 1, tzinfo=UTC),
                       starts_at=datetime(2099, 1, 2, tzinfo=UTC))
    page = text_of(app.test_client().get(f"/events/{event.public_id}"))
    assert "The place will be shared with members of the hub from" in page


# --- 5: times carry an unambiguous zone and follow the reader's region ------------

def _event_in(zone: str):
    hub = make_hub(timezone=zone)
    return make_event(hub, starts_at=datetime(2099, 12, 9, 10, 0, tzinfo=UTC),
                      duration=timedelta(hours=2), timezone=zone)


def test_taipei_times_say_gmt8_not_cst_and_every_line_has_its_zone(app):
    event = _event_in("Asia/Taipei")
    user = make_user("londoner@example.org", timezone="Europe/London")
    client = login_as(app.test_client(), user)
    page = text_of(client.get(f"/events/{event.public_id}", headers={"Accept-Language": "en-GB"}))
    assert "CST" not in page
    assert "Wednesday, 9 December 2099, 18:00 GMT+8" in page
    assert "Your time: Wednesday, 9 December 2099, 10:00 GMT" in page
    assert "Ends: Wednesday, 9 December 2099, 20:00 GMT+8" in page


def test_hong_kong_and_london_keep_their_well_known_abbreviations(app):
    hong_kong = _event_in("Asia/Hong_Kong")
    assert "18:00 HKT" in text_of(app.test_client().get(f"/events/{hong_kong.public_id}"))
    summer = make_event(make_hub(timezone="Europe/London"),
                        starts_at=datetime(2099, 7, 1, 10, 0, tzinfo=UTC))
    assert "11:00 BST" in text_of(app.test_client().get(f"/events/{summer.public_id}"))


def test_english_dates_follow_the_visitors_region(app):
    event = _event_in("Europe/London")
    expected = {
        "en-GB": "Wednesday, 9 December 2099, 10:00 GMT",
        "en": "Wednesday, 9 December 2099, 10:00 GMT",  # no region: British
        "en-AU": "Wednesday, 9 December 2099, 10:00 am GMT",
        "en-CA": "Wednesday, December 9, 2099, 10:00 a.m. GMT",
        "en-US,en;q=0.8": "Wednesday, December 9, 2099, 10:00 AM GMT",
        "fr-FR,en-US;q=0.5": "Wednesday, December 9, 2099, 10:00 AM GMT",
    }
    for header, when in expected.items():
        page = text_of(app.test_client().get(f"/events/{event.public_id}",
                                             headers={"Accept-Language": header}))
        assert when.replace("\u202f", " ") in page.replace("\u202f", " "), header


def test_the_accounts_date_format_beats_the_browser(app):
    event = _event_in("Europe/London")
    user = make_user("american@example.org")
    client = login_as(app.test_client(), user)
    settings = client.get("/account/settings")
    response = client.post("/account/settings", data={
        "csrf_token": csrf_token(settings), "display_name": "Sam", "locale": "en",
        "date_format": "en_US", "timezone": "Europe/London"})
    assert response.status_code == 302
    page = text_of(client.get(f"/events/{event.public_id}",
                              headers={"Accept-Language": "en-GB"}))
    assert "Wednesday, December 9, 2099" in page
    bad = client.post("/account/settings", data={
        "csrf_token": csrf_token(settings), "display_name": "Sam", "locale": "en",
        "date_format": "en_XX", "timezone": "Europe/London"})
    assert bad.status_code == 200 and "Choose one of the date formats in the list." in text_of(bad)
