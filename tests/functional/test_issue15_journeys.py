"""Issue 15: journeys without dead ends (language switch, honest promises, times)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import time_machine

from community.events.models import Tier
from community.extensions import db
from community.factories import make_event, make_hub, make_membership, make_rsvp, make_user
from community.hubs.models import MemberRole
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


# --- 10: copy that reads right ----------------------------------------------------

def _lead_with_two_factor(hub, email, locale="en"):
    import pyotp

    lead = make_user(email, totp_secret=pyotp.random_base32(), locale=locale)
    make_membership(lead, hub, MemberRole.LEAD)
    return lead


def test_cancelling_an_event_nobody_answered_does_not_say_emailing_0_people(app):
    hub = make_hub(slug="quiet-hub")
    lead = _lead_with_two_factor(hub, "quiet-lead@example.org")
    event = make_event(hub, starts_at=datetime(2099, 5, 1, 10, tzinfo=UTC))
    client = login_as(app.test_client(), lead)
    page = client.get(f"/events/{event.public_id}/edit")
    response = client.post(f"/events/{event.public_id}/cancel",
                           data={"csrf_token": csrf_token(page), "message": "Rain."},
                           follow_redirects=True)
    body = text_of(response)
    assert "0 people" not in body
    assert "Nobody had answered it, so there was nobody to email." in body


def test_chapter_page_shows_its_hubs_public_updates(app):
    from community.factories import make_chapter, make_update
    from community.hubs.models import HubVisibility
    from community.updates.models import UpdateAudience

    chapter = make_chapter("zz")
    hub = make_hub(chapter, "zz-listed", name_en="Listed Crew")
    hidden = make_hub(chapter, "zz-unlisted", visibility=HubVisibility.UNLISTED)
    make_update(hub, title_en="Picnic photos are up")
    make_update(hidden, title_en="SECRET unlisted news")
    make_update(hub, title_en="MEMBERS-ONLY news", audience=UpdateAudience.MEMBERS)
    body = text_of(app.test_client().get("/chapters/zz"))
    assert "No updates yet" not in body
    assert "Picnic photos are up" in body and "Listed Crew" in body
    assert "SECRET" not in body and "MEMBERS-ONLY" not in body


def test_chinese_lists_use_the_enumeration_comma(app):
    event = make_event(make_hub(), languages="yue en")
    body = text_of(app.test_client().get(f"/events/{event.public_id}",
                                         headers={"Accept-Language": "zh-HK"}))
    assert "粵語、英文" in body or "廣東話、英文" in body
    english = text_of(app.test_client().get(f"/events/{event.public_id}",
                                            headers={"Accept-Language": "en"}))
    assert "Cantonese, English" in english


def test_fallback_note_names_the_language_shown(app):
    only_chinese = make_event(make_hub(), title_en="", title_zh="純中文活動")
    only_english = make_event(make_hub(), title_en="English only event", title_zh="")
    english_page = text_of(app.test_client().get(f"/events/{only_chinese.public_id}",
                                                  headers={"Accept-Language": "en"}))
    assert "Only available in Chinese" in english_page
    chinese_page = text_of(app.test_client().get(f"/events/{only_english.public_id}",
                                                  headers={"Accept-Language": "zh-HK"}))
    assert "只有英文版本" in chinese_page and "只有另一種語言版本" not in chinese_page


def test_audit_details_are_translated_on_chinese_pages(app):
    from community import audit

    hub = make_hub(slug="audit-words")
    lead = _lead_with_two_factor(hub, "audit-lead@example.org", locale="zh_Hant_HK")
    audit.record(lead, "attendees.view", "event", "some-event", hub=hub,
                 detail="list=attendees count=0")
    audit.record(lead, "hub.settings", hub=hub, target_type="hub", target_id=hub.slug,
                 detail="name_zh; description_zh")
    audit.record(lead, "hub.settings", hub=hub, target_type="hub", target_id=hub.slug,
                 detail="join_policy: open -> approval")
    db.session.flush()
    client = login_as(app.test_client(), lead)
    body = text_of(client.get("/hubs/audit-words/organise/audit"))
    for raw in ("list=attendees", "count=0", "name_zh", "description_zh", "join_policy"):
        assert raw not in body, raw
    assert "出席者名單，0 人" in body
    assert "已更改：" in body and "由開放改為需要批准" in body
    lead.locale = "en"
    db.session.flush()
    english = text_of(client.get("/hubs/audit-words/organise/audit"))
    assert "Attendee list, 0 people" in english


def test_device_labels_are_translated(app):
    from community.auth.models import UserSession

    user = make_user("device@example.org", locale="zh_Hant_HK")
    login_as(app.test_client(), user)  # the helper's session
    db.session.add(UserSession(user=user, token_hash="x" * 64, device_label="Chrome on Linux",
                               last_seen_at=datetime(2026, 1, 1, tzinfo=UTC)))
    db.session.flush()
    client = login_as(app.test_client(), user)
    body = text_of(client.get("/account/security"))
    assert "Linux 上面嘅 Chrome" in body and "Chrome on Linux" not in body


# --- 3: no dead ends on the dashboard ---------------------------------------------

def test_dashboard_links_events_and_hubs_and_offers_manage_links_to_organisers(app):
    hub = make_hub(slug="dash-hub", name_en="Dash Hub")
    other = make_hub(slug="dash-other", name_en="Other Hub")
    organiser = make_user("dash-org@example.org")
    make_membership(organiser, hub, MemberRole.ORGANISER)
    make_membership(organiser, other)
    event = make_event(hub, title_en="Dash picnic", starts_at=datetime(2099, 1, 1, tzinfo=UTC))
    make_rsvp(event, organiser)
    body = login_as(app.test_client(), organiser).get("/dashboard").get_data(as_text=True)
    assert f'<a href="/events/{event.public_id}">Dash picnic</a>' in body
    assert 'href="/hubs/dash-hub"' in body and 'href="/hubs/dash-other"' in body
    assert 'href="/hubs/dash-hub/events"' in body
    assert 'href="/hubs/dash-hub/organise/members"' in body
    assert "/hubs/dash-other/organise" not in body  # a plain member there
    assert 'href="/account/calendar"' in body


# --- 2: visible ways to subscribe -------------------------------------------------

def _main(response) -> str:
    body = response.get_data(as_text=True)
    return body.split('<main', 1)[1].split("</main>", 1)[0]


def test_hub_and_chapter_pages_show_subscribe_links(app):
    from community.factories import make_chapter
    from community.hubs.models import HubVisibility

    chapter = make_chapter("sb")
    make_hub(chapter, "sub-hub")
    hidden_hub = make_hub(chapter, "sub-hidden", visibility=HubVisibility.UNLISTED)
    hub_main = _main(app.test_client().get("/hubs/sub-hub"))
    assert 'href="webcal://harbour.test/hubs/sub-hub/events.ics"' in hub_main
    assert 'href="/hubs/sub-hub/updates.atom"' in hub_main
    assert "calendar app" in hub_main and "feed reader" in hub_main
    chapter_main = _main(app.test_client().get("/chapters/sb"))
    assert 'href="webcal://harbour.test/chapters/sb/events.ics"' in chapter_main
    assert 'href="/chapters/sb/updates.atom"' in chapter_main
    # An unlisted hub has no public feeds, so its members see no subscribe links.
    member = make_user("hidden-member@example.org")
    make_membership(member, hidden_hub)
    hidden_main = _main(login_as(app.test_client(), member).get("/hubs/sub-hidden"))
    assert "webcal://" not in hidden_main and ".atom" not in hidden_main


def test_personal_calendar_offers_a_webcal_subscription(app):
    user = make_user("cal@example.org")
    client = login_as(app.test_client(), user)
    page = client.get("/account/calendar")
    body = client.post("/account/calendar", data={"csrf_token": csrf_token(page)}
                       ).get_data(as_text=True)
    assert re.search(r'href="webcal://harbour\.test/calendar/[^"]+\.ics"', body), body


# --- 9: turning on two-factor is quick, and safe to send twice --------------------

def _setup_page(client):
    page = client.get("/account/two-factor")
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>',
                       page.get_data(as_text=True)).group(1)
    return page, secret


CODE = re.compile(r"<code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code>")


def test_turning_on_two_factor_takes_under_a_second_at_production_argon2_cost(app):
    import time

    import pyotp

    # The production cost, not the test suite's cheap one: the old page hashed ten
    # recovery codes with it one by one (2-12 seconds).
    app.config.update(ARGON2_TIME_COST=3, ARGON2_MEMORY_COST=65536, ARGON2_PARALLELISM=4)
    try:
        make_user("fast2fa@example.org")
        client = app.test_client()
        sign_in(client, "fast2fa@example.org")
        page, secret = _setup_page(client)
        started = time.perf_counter()
        response = client.post("/account/two-factor", data={
            "csrf_token": csrf_token(page), "code": pyotp.TOTP(secret).now()})
        elapsed = time.perf_counter() - started
    finally:
        app.config.update(ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=8, ARGON2_PARALLELISM=1)
    codes = re.findall(r"<li><code>([^<]+)</code></li>", response.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert elapsed < 1.0, f"{elapsed:.2f} s"


def test_recovery_codes_carry_at_least_80_bits():
    import math

    from community.auth import totp

    bits = totp.RECOVERY_CODE_LENGTH * math.log2(len(set(totp.RECOVERY_ALPHABET)))
    assert bits >= 80


def test_a_recovery_code_issued_before_still_works_once(app):
    import pyotp

    from community.auth.models import RecoveryCode
    from community.auth.passwords import hash_password
    from community.auth.totp import use_recovery_code

    user = make_user("legacy@example.org", totp_secret=pyotp.random_base32())
    user.recovery_codes.append(RecoveryCode(code_hash=hash_password("0a1b2c3d4e")))
    db.session.flush()
    assert use_recovery_code(user, "0A1B2-C3D4E") is True
    assert use_recovery_code(user, "0a1b2-c3d4e") is False  # single use


def test_sending_the_turn_on_form_twice_still_shows_working_codes(app):
    import pyotp

    from community.auth.totp import use_recovery_code

    user = make_user("twice@example.org")
    client = app.test_client()
    sign_in(client, "twice@example.org")
    page, secret = _setup_page(client)
    data = {"csrf_token": csrf_token(page), "code": pyotp.TOTP(secret).now()}
    # A double click: the second request leaves before the first answer arrives,
    # so it carries the session cookie as it was before the first.
    with client.session_transaction() as before:
        cookie_state = dict(before)
    first = client.post("/account/two-factor", data=data)
    with client.session_transaction() as session:
        session.clear()
        session.update(cookie_state)
    second = client.post("/account/two-factor", data=data)
    assert second.status_code == 200
    codes = CODE.findall(second.get_data(as_text=True))
    assert len(codes) == 10, "the second answer must show codes, not a dead end"
    assert "The form was sent twice" in text_of(second)
    # The codes on the page the person sees last are the ones that work.
    earlier = CODE.findall(first.get_data(as_text=True))
    db.session.refresh(user)
    assert use_recovery_code(user, codes[0]) is True
    assert use_recovery_code(user, earlier[0]) is False
    # Sending it again after the answer (the browser's "resend") shows codes too.
    third = client.post("/account/two-factor", data=data)
    assert len(CODE.findall(third.get_data(as_text=True))) == 10
    # But a GET of the page later is the ordinary "two-factor is on" page.
    assert not CODE.findall(client.get("/account/two-factor").get_data(as_text=True))


def test_emails_write_dates_the_recipients_way_not_the_senders(app):
    from tests.conftest import outbox

    hub = make_hub(slug="mail-dates", timezone="Europe/London")
    lead = _lead_with_two_factor(hub, "mail-lead@example.org")
    american = make_user("mail-us@example.org", date_format="en_US")
    briton = make_user("mail-gb@example.org")
    event = make_event(hub, starts_at=datetime(2099, 12, 9, 18, 0, tzinfo=UTC))
    make_rsvp(event, american)
    make_rsvp(event, briton)
    client = login_as(app.test_client(), lead)
    page = client.get(f"/events/{event.public_id}/edit",
                      headers={"Accept-Language": "en-AU"})  # the sender's own region
    client.post(f"/events/{event.public_id}/cancel",
                data={"csrf_token": csrf_token(page), "message": "Storm."},
                headers={"Accept-Language": "en-AU"})
    [to_american] = outbox("mail-us@example.org")
    [to_briton] = outbox("mail-gb@example.org")
    assert "December 9, 2099" in to_american.body_text
    assert "9 December 2099" in to_briton.body_text
    assert " pm" not in to_briton.body_text and " pm" not in to_american.body_text
