"""Sign-up, verification, sign-in and sign-out through the real forms."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from community.auth.models import UserSession
from community.auth.services import find_user
from community.extensions import db
from community.factories import make_user
from tests.conftest import csrf_token, link_in, outbox, post_form, sign_in

GOOD_PASSWORD = "plum orchard lantern seventeen"


def sign_up(client, email="new@example.org", name="Ah Ming", password=GOOD_PASSWORD,
            confirm=None, locale="en", **kwargs):
    page = client.get("/sign-up")
    return client.post("/sign-up", data={
        "csrf_token": csrf_token(page), "email": email, "display_name": name,
        "password": password, "confirm": confirm if confirm is not None else password,
        "locale": locale,
    }, **kwargs)


def test_sign_up_verify_and_sign_in(client):
    response = sign_up(client, email="  Ming@Example.ORG ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-up/check-your-inbox"
    user = find_user("Ming@example.org")
    assert user is not None and not user.is_verified
    assert user.display_name == "Ah Ming"

    [email] = outbox("Ming@example.org")
    assert "Confirm your email address" in email.subject
    path = link_in(email, "/verify-email/")

    # Opening the link shows a button; only the POST verifies (link scanners, R26).
    page = client.get(path)
    assert page.status_code == 200
    db.session.refresh(user)
    assert not user.is_verified
    assert client.post(path, data={"csrf_token": csrf_token(page)}).status_code == 302
    db.session.refresh(user)
    assert user.is_verified

    response = sign_in(client, "ming@example.org", GOOD_PASSWORD, follow=True)
    assert response.status_code == 200
    assert "Hello, Ah Ming" in response.get_data(as_text=True)


def test_sign_up_in_chinese_sends_chinese_email(client):
    sign_up(client, email="chan@example.org", locale="zh_Hant_HK")
    [email] = outbox("chan@example.org")
    assert "確認" in email.subject
    user = find_user("chan@example.org")
    assert user.locale == "zh_Hant_HK"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": ""}, "Enter your email address."),
        ({"email": "not-an-email"}, "Enter an email address like name@example.org."),
        ({"email": "a" * 250 + "@example.org"}, "That email address is too long."),
        ({"name": ""}, "Choose a display name."),
        ({"name": "n" * 65}, "Use at most 64 characters."),
        ({"name": "Admin\u202eteam"}, "A display name cannot contain line breaks"),
        ({"password": "short pass"}, "Use at least 12 characters."),
        ({"password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD + "x"},
         "The two passwords are not the same."),
        ({"password": "x" * 129}, "Use at most 128 characters."),
    ],
)
def test_sign_up_explains_bad_input_and_keeps_what_was_typed(client, fields, message):
    response = sign_up(client, **fields)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert message in body
    if fields.get("name", "x") and "name" not in fields:
        assert 'value="Ah Ming"' in body
    # Passwords are never sent back.
    assert GOOD_PASSWORD not in body
    assert outbox() == []


def test_sign_up_error_is_translated(client):
    response = sign_up(client, email="", headers={"Accept-Language": "zh-HK"})
    body = response.get_data(as_text=True)
    assert '<html lang="zh-Hant-HK">' in body
    assert "Enter your email address." not in body


def test_sign_in_failure_is_generic_and_keeps_the_email(client):
    make_user("known@example.org")
    response = sign_in(client, "known@example.org", "wrong password entirely")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "do not match an account" in body
    assert 'value="known@example.org"' in body


def test_sign_in_redirects_only_to_our_own_pages(client):
    make_user("n@example.org")
    for target, expected in (("/dashboard", "/dashboard"),
                             ("https://evil.example/x", "/dashboard"),
                             ("//evil.example", "/dashboard")):
        page = client.get("/sign-in", query_string={"next": target})
        response = client.post("/sign-in", data={
            "csrf_token": csrf_token(page), "email": "n@example.org",
            "password": "correct horse battery staple", "next": target})
        assert response.headers["Location"] == expected
        post_form(client, "/sign-out", page_url="/dashboard")


def test_dashboard_needs_sign_in_and_comes_back_after(client):
    make_user("d@example.org")
    response = client.get("/dashboard")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=/dashboard")


def test_unverified_member_is_told_why_and_can_resend(client):
    make_user("u@example.org", verified=False)
    sign_in(client, "u@example.org")
    page = client.get("/dashboard")
    body = page.get_data(as_text=True)
    assert "Please confirm your email address" in body
    response = client.post("/verify-email/resend", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert len(outbox("u@example.org")) == 1


def test_dashboard_empty_states_offer_a_next_step(client):
    make_user("e@example.org")
    sign_in(client, "e@example.org")
    body = client.get("/dashboard").get_data(as_text=True)
    assert "You have not joined a hub yet." in body
    assert "You have not answered any upcoming events yet." in body


def test_r22_sign_out_is_a_post_that_ends_the_session(client):
    make_user("s@example.org")
    sign_in(client, "s@example.org")
    saved = client.get_cookie("__Host-session").value
    assert client.get("/sign-out").status_code == 405
    response = post_form(client, "/sign-out", page_url="/dashboard")
    assert response.status_code == 302
    assert response.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert db.session.scalars(select(UserSession)).all() == []
    # Replaying the old cookie does not sign anyone in.
    client.set_cookie("__Host-session", saved)
    assert client.get("/dashboard").status_code == 302


def test_r22_pre_login_cookie_is_not_valid_after_login(client):
    make_user("f@example.org")
    client.get("/sign-in")
    before = client.get_cookie("__Host-session").value
    sign_in(client, "f@example.org")
    after = client.get_cookie("__Host-session").value
    assert before != after
    fresh = client.application.test_client()
    fresh.set_cookie("__Host-session", before)
    assert fresh.get("/dashboard").status_code == 302


def test_r22_session_record_holds_only_a_hash(client):
    make_user("h@example.org")
    sign_in(client, "h@example.org")
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(client.application)
    token = serializer.loads(client.get_cookie("__Host-session").value)["sid"]
    assert len(token) >= 43  # 256 bits
    record = db.session.scalar(select(UserSession))
    assert record.token_hash != token and token not in record.token_hash
    assert record.device_label


def test_r21_cookie_on_sign_in_and_remember_me_is_at_most_14_days(client):
    make_user("c@example.org")
    response = sign_in(client, "c@example.org")
    cookie = next(h for h in response.headers.getlist("Set-Cookie")
                  if h.startswith("__Host-session="))
    lowered = cookie.lower()
    assert "secure" in lowered and "httponly" in lowered and "samesite=lax" in lowered
    assert "path=/" in lowered and "domain=" not in lowered and "expires" not in lowered

    post_form(client, "/sign-out", page_url="/dashboard")
    response = sign_in(client, "c@example.org", remember=True)
    cookie = next(h for h in response.headers.getlist("Set-Cookie")
                  if h.startswith("__Host-session="))
    from email.utils import parsedate_to_datetime

    from community.database import utcnow

    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    lifetime = (expires - utcnow()).total_seconds()
    assert 13 * 24 * 3600 < lifetime <= 14 * 24 * 3600


def test_r25_signed_in_pages_are_not_stored(client):
    make_user("nc@example.org")
    sign_in(client, "nc@example.org")
    for path in ("/dashboard", "/account/security", "/"):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "no-store"
        assert "Cookie" in response.headers["Vary"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(email=st.text(max_size=300), name=st.text(max_size=100), password=st.text(max_size=200))
def test_arbitrary_text_never_breaks_sign_up_or_sign_in(client, email, name, password):
    from tests.conftest import reset_limiter

    reset_limiter()
    response = sign_up(client, email=email, name=name, password=password)
    assert response.status_code < 500
    response = sign_in(client, email, password)
    assert response.status_code < 500
