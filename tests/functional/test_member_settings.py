"""The settings page through the real form: profile, language, time zone,
notifications; post/redirect/get, errors beside the fields, and R10."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from community.auth.models import User
from community.extensions import db
from community.factories import make_user
from tests.conftest import csrf_token, sign_in

URL = "/account/settings"
NOTIFICATIONS = ("notify_events", "notify_updates", "notify_reminders", "notify_waitlist",
                 "weekly_digest")
DECLARED = {"display_name", "locale", "timezone", *NOTIFICATIONS}


def valid_data(**changes) -> dict:
    data = {"display_name": "Harbour Cat", "locale": "en", "timezone": "Europe/London",
            "notify_events": "y", "notify_updates": "y", "notify_reminders": "y",
            "notify_waitlist": "y"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def post_settings(client, **changes):
    page = client.get(URL)
    return client.post(URL, data={"csrf_token": csrf_token(page), **valid_data(**changes)})


def tag(body: str, name: str, attribute: str) -> str:
    """The first ``<name ...>`` tag carrying ``attribute``."""
    return next(t for t in re.findall(rf"<{name}\b[^>]*>", body) if attribute in t)


def reload(user: User) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.id == user.id))


def columns(user: User) -> dict:
    return {column.key: getattr(user, column.key) for column in User.__table__.columns}


@pytest.fixture
def member(client):
    user = make_user("settings@example.org", display_name="Old Name", timezone="UTC")
    sign_in(client, "settings@example.org")
    return user


def test_settings_need_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=")


def test_settings_page_shows_my_values_and_links_to_security(client, member):
    member.weekly_digest = True
    member.notify_updates = False
    db.session.flush()
    body = client.get(URL).get_data(as_text=True)
    assert 'value="Old Name"' in body
    assert " selected" in tag(body, "option", 'value="en"')
    assert " checked" in tag(body, "input", 'name="weekly_digest"')
    assert " checked" not in tag(body, "input", 'name="notify_updates"')
    assert " checked" in tag(body, "input", 'name="notify_events"')
    assert 'href="/account/security"' in body
    assert 'href="/account/export"' in body and 'href="/account/delete"' in body


def test_time_zone_is_a_searchable_text_field_without_javascript(client, member):
    body = client.get(URL).get_data(as_text=True)
    field = tag(body, "input", 'name="timezone"')
    assert 'list="timezone-options"' in field and 'type="text"' in field
    datalist = re.search(r'<datalist id="timezone-options">(.*?)</datalist>', body, re.S).group(1)
    assert '<option value="Asia/Hong_Kong">' in datalist
    assert '<option value="Europe/London">' in datalist
    assert "<script" not in body


def test_saving_redirects_back_and_flashes(client, member):
    response = post_settings(client, display_name="  New Name  ", timezone="Asia/Hong_Kong",
                             weekly_digest="y", notify_updates=None)
    assert response.status_code == 302
    assert response.headers["Location"] == URL
    page = client.get(URL).get_data(as_text=True)
    assert "Your settings are saved." in page
    user = reload(member)
    assert user.display_name == "New Name"
    assert user.timezone == "Asia/Hong_Kong"
    assert user.weekly_digest is True
    assert user.notify_updates is False
    assert user.notify_events is True


def test_unticking_every_box_turns_every_email_off(client, member):
    response = post_settings(client, **{name: None for name in NOTIFICATIONS})
    assert response.status_code == 302
    user = reload(member)
    assert [getattr(user, name) for name in NOTIFICATIONS] == [False] * 5


def test_a_pseudonym_of_64_characters_is_welcome(client, member):
    name = "匿" * 64
    assert post_settings(client, display_name=name).status_code == 302
    assert reload(member).display_name == name


def test_choosing_chinese_switches_the_pages(client, member):
    response = post_settings(client, locale="zh_Hant_HK")
    assert response.status_code == 302
    assert reload(member).locale == "zh_Hant_HK"
    assert '<html lang="zh-Hant-HK">' in client.get(URL).get_data(as_text=True)


@pytest.mark.parametrize(("typed", "stored"), [
    ("asia/hong_kong", "Asia/Hong_Kong"),
    ("America/New York", "America/New_York"),
    ("  UTC  ", "UTC"),
])
def test_time_zone_forgives_case_and_spaces(client, member, typed, stored):
    assert post_settings(client, timezone=typed).status_code == 302
    assert reload(member).timezone == stored


def test_unknown_time_zone_is_refused_and_the_typed_text_kept(client, member):
    response = post_settings(client, display_name="Typed Name", timezone="Mars/Olympus_Mons")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "We do not know that time zone." in body
    assert 'value="Mars/Olympus_Mons"' in body
    assert 'aria-invalid="true"' in body
    # Every other field keeps what was typed, too.
    assert 'value="Typed Name"' in body
    user = reload(member)
    assert (user.display_name, user.timezone) == ("Old Name", "UTC")


@pytest.mark.parametrize("zone", ["Factory", "localtime", "factory"])
def test_a_zone_the_formatter_cannot_use_is_refused_and_pages_still_answer(client, member,
                                                                           zone):
    """zoneinfo lists Factory and localtime, but Babel cannot format times in them."""
    response = post_settings(client, timezone=zone)
    assert response.status_code == 200
    assert "We do not know that time zone." in response.get_data(as_text=True)
    assert reload(member).timezone == "UTC"
    for url in ("/", "/events", "/dashboard", URL):
        assert client.get(url, query_string={"tz": zone}).status_code == 200


@pytest.mark.parametrize(("changes", "message"), [
    ({"display_name": "x" * 65}, "Use at most 64 characters."),
    ({"display_name": ""}, "Choose a display name."),
    ({"display_name": "   "}, "Choose a display name."),
    ({"display_name": "\x00\x00"}, "Choose a display name."),
    ({"display_name": None}, "Choose a display name."),
    ({"display_name": "Two\nLines"}, "cannot contain line breaks"),
    ({"display_name": "evil\u202etxt.exe"}, "cannot contain line breaks"),
    ({"timezone": ""}, "Enter a time zone, such as Europe/London."),
    ({"timezone": "Europe/London" * 1000}, "We do not know that time zone."),
    ({"timezone": "../../etc/passwd"}, "We do not know that time zone."),
    ({"timezone": "\x00"}, "Enter a time zone, such as Europe/London."),
    ({"locale": "fr"}, "Choose one of the languages in the list."),
    ({"locale": "<script>alert(1)</script>"}, "Choose one of the languages in the list."),
    ({"locale": None}, "Choose one of the languages in the list."),
])
def test_bad_input_is_shown_beside_the_field_and_changes_nothing(client, member, changes,
                                                                 message):
    before = columns(reload(member))
    response = post_settings(client, **changes)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert message in body
    assert "<script>alert" not in body
    assert columns(reload(member)) == before


def test_nul_inside_a_name_is_dropped(client, member):
    assert post_settings(client, display_name="Ah\x00 Ming").status_code == 302
    assert reload(member).display_name == "Ah Ming"


def test_garbage_in_a_checkbox_is_just_ticked(client, member):
    assert post_settings(client, weekly_digest="\x00" * 50 + "☃").status_code == 302
    assert reload(member).weekly_digest is True


def test_settings_post_needs_a_csrf_token(client, member):
    response = client.post(URL, data=valid_data())
    assert response.status_code == 400
    assert reload(member).display_name == "Old Name"


def test_r10_extra_fields_change_nothing(client, member):
    other = make_user("someone-else@example.org", display_name="Someone Else")
    before = columns(reload(member))
    other_before = columns(reload(other))
    response = post_settings(
        client, display_name="Only This Changes",
        is_site_admin="1", is_admin="1", email="attacker@example.org",
        user_id=str(other.id), id=str(other.id), public_id=other.public_id,
        password_hash="$argon2id$forged", totp_secret="JBSWY3DPEHPK3PXP",
        email_verified_at="", disabled_at="2020-01-01", calendar_token_hash="f" * 64,
        role="lead", hub_id="1", is_approved="1", created_at="2000-01-01",
    )
    assert response.status_code == 302
    after = columns(reload(member))
    assert after["display_name"] == "Only This Changes"
    changed = {key for key in after if after[key] != before[key]}
    assert changed <= DECLARED
    assert after["is_site_admin"] is False
    assert after["email"] == "settings@example.org"
    assert columns(reload(other)) == other_before


def test_dashboard_links_to_settings(client, member):
    body = client.get("/dashboard").get_data(as_text=True)
    assert 'href="/account/settings"' in body


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=200), zone=st.text(max_size=100), locale=st.text(max_size=30),
       box=st.text(max_size=20))
def test_arbitrary_text_never_breaks_the_settings_page(client, member, name, zone, locale, box):
    response = post_settings(client, display_name=name, timezone=zone, locale=locale,
                             weekly_digest=box)
    assert response.status_code in (200, 302)
