"""SECURITY.md R11-R20, R23, R24 through the real forms."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from community.auth import passwords
from community.auth.models import RecoveryCode, UserSession
from community.auth.services import find_user
from community.database import utcnow
from community.extensions import db
from community.factories import make_hub, make_membership, make_user
from community.hubs.models import MemberRole
from tests.conftest import csrf_token, link_in, outbox, post_form, sign_in

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "velvet canyon harmonica ninety"
HASH_FORMAT = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$")


def mask(body: str) -> str:
    """The page without its CSRF tokens: Flask-WTF signs them with a timestamp,
    so two pages a second apart differ there and nowhere else. Both shapes are
    masked: the header's hand-written input and WTForms' ``form.csrf_token``
    (``id=… name=… type=hidden value=…``)."""
    return re.sub(r'(name="csrf_token"[^>]*? value=")[^"]+"', r'\1"', body)


# --- R11 / R12 / R13: passwords -------------------------------------------------

def test_r11_default_hash_is_argon2id_with_strong_parameters(app, monkeypatch):
    from community.config import DEFAULTS

    for key in ("ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM"):
        monkeypatch.setitem(app.config, key, DEFAULTS[key])
    with app.test_request_context():
        stored = passwords.hash_password("a long enough password")
    m, t, p = map(int, HASH_FORMAT.match(stored).groups())
    assert m >= 19 * 1024 and t >= 2 and p >= 1
    assert (m, t, p) == (65536, 3, 4)


def test_r11_hash_is_upgraded_at_sign_in_when_parameters_change(app, client, monkeypatch):
    user = make_user("r11@example.org")
    old_hash = user.password_hash
    assert HASH_FORMAT.match(old_hash).group(2) == "1"
    monkeypatch.setitem(app.config, "ARGON2_TIME_COST", 2)
    sign_in(client, "r11@example.org")
    db.session.refresh(user)
    assert user.password_hash != old_hash
    assert HASH_FORMAT.match(user.password_hash).group(2) == "2"


def test_r12_length_rules_without_composition_or_truncation(client):
    long_password = ("quiet river " + "lamp tiger moss " * 8 + "ocean bright cup")[:128]
    assert len(long_password) == 128
    from tests.functional.test_accounts import sign_up

    response = sign_up(client, email="long@example.org", password=long_password)
    assert response.status_code == 302
    user = find_user("long@example.org")
    user.email_verified_at = utcnow()
    altered = long_password[:99] + ("Q" if long_password[99] != "Q" else "R") + long_password[100:]
    assert "do not match" in sign_in(client, "long@example.org", altered).get_data(as_text=True)
    assert sign_in(client, "long@example.org", long_password).status_code == 302


def test_r12_password_fields_are_plain_password_inputs(client):
    for path in ("/sign-up", "/sign-in"):
        body = client.get(path).get_data(as_text=True)
        fields = re.findall(r"<input[^>]*type=\"password\"[^>]*>", body)
        assert fields
        for field in fields:
            assert "onpaste" not in field
            maxlength = re.search(r'maxlength="(\d+)"', field)
            assert maxlength is None or int(maxlength.group(1)) >= 128


@pytest.mark.parametrize("weak", ["password1234", "HongKong2019!!", "香港香港香港香港香港香港",
                                  "光復香港時代革命光復香港", "123456789012"])
def test_r13_common_and_context_passwords_are_rejected(client, weak):
    from tests.functional.test_accounts import sign_up

    response = sign_up(client, email="weak@example.org", password=weak)
    assert response.status_code == 200
    assert find_user("weak@example.org") is None


def test_r13_bundled_list_has_at_least_ten_thousand_entries():
    assert len(passwords.common_passwords()) >= 10_000


def test_r13_password_may_not_contain_email_or_name(client):
    from tests.functional.test_accounts import sign_up

    response = sign_up(client, email="wongtaisin@example.org",
                       password="wongtaisin likes the sea")
    assert "must not contain your email address" in response.get_data(as_text=True)


# --- R14 / R15: throttling and no enumeration ----------------------------------

def attempt(client, email, n):
    return client.post("/sign-in", data={
        "csrf_token": csrf_token(client.get("/sign-in")), "email": email,
        "password": f"wrong password number {n}"},
        environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})


def test_r14_eleventh_failure_is_refused_the_same_for_real_and_fake_accounts(client, app):
    make_user("victim@example.org")
    real = [attempt(client, "victim@example.org", n).status_code for n in range(11)]
    fake = [attempt(client, "nobody@example.org", n).status_code for n in range(11)]
    assert real == fake == [200] * 10 + [429]
    response = attempt(client, "victim@example.org", 99)
    assert response.status_code == 429
    assert "Please try again in 15 minutes" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) <= 15 * 60
    # Even the right password is refused until the window ends, without hashing.
    with mock.patch("community.auth.services.verify_password") as verify:
        assert sign_in(client, "victim@example.org").status_code == 429
        verify.assert_not_called()


def test_r14_throttle_lifts_after_the_window(client):
    make_user("later@example.org")
    with time_machine.travel(utcnow(), tick=False) as traveller:
        for n in range(10):
            attempt(client, "later@example.org", n)
        assert sign_in(client, "later@example.org").status_code == 429
        traveller.shift(timedelta(minutes=16))
        assert sign_in(client, "later@example.org").status_code == 302


def test_r14_throttled_page_is_translated(client):
    for n in range(10):
        attempt(client, "zh@example.org", n)
    response = client.post("/sign-in", data={
        "csrf_token": csrf_token(client.get("/sign-in")), "email": "zh@example.org",
        "password": "whatever it is"}, headers={"Accept-Language": "zh-HK"})
    assert response.status_code == 429
    assert '<html lang="zh-Hant-HK">' in response.get_data(as_text=True)


def test_r15_sign_in_failure_is_identical_and_hashes_once(client):
    make_user("exists@example.org")
    bodies, calls = [], []
    for email in ("exists@example.org", "absent@example.org"):
        with mock.patch("community.auth.services.verify_password",
                        wraps=passwords.verify_password) as verify:
            response = sign_in(client, email, "not the password at all")
            calls.append(verify.call_count)
        bodies.append((response.status_code, mask(response.get_data(as_text=True))
                       .replace(email, "EMAIL")))
    assert bodies[0] == bodies[1]
    assert calls == [1, 1]


def test_r15_sign_up_answers_the_same_and_emails_the_owner(client):
    from tests.functional.test_accounts import sign_up

    make_user("taken@example.org")
    results = []
    for email in ("taken@example.org", "free@example.org"):
        with mock.patch("community.auth.services.hash_password",
                        wraps=passwords.hash_password) as hasher:
            response = sign_up(client, email=email)
            results.append((response.status_code, response.headers.get("Location"),
                            hasher.call_count))
    assert results[0] == results[1]
    [notice] = outbox("taken@example.org")
    assert "already have" in notice.subject
    [verify] = outbox("free@example.org")
    assert "Confirm" in verify.subject


def test_r15_reset_request_answers_the_same(client):
    make_user("reset-me@example.org")
    bodies = []
    for email in ("reset-me@example.org", "ghost@example.org"):
        response = post_form(client, "/reset-password", {"email": email},
                             page_url="/reset-password")
        bodies.append((response.status_code, mask(response.get_data(as_text=True))))
    assert bodies[0] == bodies[1]
    assert len(outbox("reset-me@example.org")) == 1
    assert outbox("ghost@example.org") == []


# --- R16 / R17: reset and password change ----------------------------------------

def request_reset(client, email):
    post_form(client, "/reset-password", {"email": email}, page_url="/reset-password")
    return link_in(outbox(email)[-1], "/reset-password/")


def set_new_password(client, path, password=NEW_PASSWORD):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/reset-password/new"  # token leaves the URL
    page = client.get("/reset-password/new")
    if page.status_code != 200:
        return page
    return client.post("/reset-password/new", data={
        "csrf_token": csrf_token(page), "password": password, "confirm": password})


def test_r16_reset_link_works_once_within_the_hour(client):
    user = make_user("r16@example.org")
    start = utcnow()
    with time_machine.travel(start, tick=False) as traveller:
        path = request_reset(client, "r16@example.org")
        traveller.shift(timedelta(minutes=59))
        response = set_new_password(client, path)
        assert response.status_code == 302 and response.headers["Location"] == "/sign-in"
    # No automatic sign-in after a reset.
    assert client.get("/dashboard").status_code == 302
    assert sign_in(client, "r16@example.org", NEW_PASSWORD).status_code == 302
    db.session.refresh(user)
    # Used once: the same link no longer works.
    assert set_new_password(client, path).status_code == 400


def test_r16_reset_link_expires_after_an_hour(client):
    make_user("late@example.org")
    start = utcnow()
    with time_machine.travel(start, tick=False) as traveller:
        path = request_reset(client, "late@example.org")
        traveller.shift(timedelta(minutes=61))
        assert set_new_password(client, path).status_code == 400


def test_r16_newer_link_and_email_change_void_older_links(client):
    user = make_user("twice@example.org")
    with time_machine.travel(utcnow(), tick=False) as traveller:
        first = request_reset(client, "twice@example.org")
        traveller.shift(timedelta(seconds=2))
        second = request_reset(client, "twice@example.org")
    assert set_new_password(client, first).status_code == 400
    user.email = "moved@example.org"
    db.session.flush()
    assert set_new_password(client, second).status_code == 400


def test_r16_links_use_the_configured_address_not_the_host_header(client):
    make_user("host@example.org")
    page = client.get("/reset-password", headers={"Host": "127.0.0.1"})
    client.post("/reset-password", headers={"Host": "127.0.0.1"},
                data={"csrf_token": csrf_token(page), "email": "host@example.org"})
    [email] = outbox("host@example.org")
    assert "https://harbour.test/reset-password/" in email.body_text
    assert "127.0.0.1" not in email.body_text
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400


def test_r16_two_factor_still_required_after_reset(client):
    user = make_user("tfa-reset@example.org", totp_secret=pyotp.random_base32())
    path = request_reset(client, "tfa-reset@example.org")
    set_new_password(client, path)
    response = sign_in(client, "tfa-reset@example.org", NEW_PASSWORD)
    assert response.headers["Location"] == "/sign-in/code"
    assert client.get("/dashboard").status_code == 302
    del user


def test_r17_password_change_needs_current_password_and_ends_other_sessions(app, client):
    make_user("r17@example.org")
    other = app.test_client()
    sign_in(other, "r17@example.org")
    sign_in(client, "r17@example.org")
    page = client.get("/account/password")
    wrong = client.post("/account/password", data={
        "csrf_token": csrf_token(page), "current_password": "not my password",
        "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert "current password is not right" in wrong.get_data(as_text=True)
    ok = client.post("/account/password", data={
        "csrf_token": csrf_token(page), "current_password": PASSWORD,
        "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert ok.status_code == 302
    assert client.get("/dashboard").status_code == 200
    assert other.get("/dashboard").status_code == 302
    notice = outbox("r17@example.org")[-1]
    assert "password was changed" in notice.subject
    assert NEW_PASSWORD not in notice.body_text and NEW_PASSWORD not in notice.body_html


# --- R18 / R19: two-factor -----------------------------------------------------------

def enrol(client, email="tfa@example.org"):
    make_user(email)
    sign_in(client, email)
    page = client.get("/account/two-factor")
    body = page.get_data(as_text=True)
    assert 'src="data:image/svg+xml' in body
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', body).group(1)
    assert len(secret) == 32  # 160 bits
    response = client.post("/account/two-factor", data={
        "csrf_token": csrf_token(page), "code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    codes = re.findall(r"<code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code>",
                       response.get_data(as_text=True))
    assert len(codes) == 10
    post_form(client, "/sign-out", page_url="/dashboard")
    return secret, codes


def code_step(client, code):
    page = client.get("/sign-in/code")
    return client.post("/sign-in/code", data={"csrf_token": csrf_token(page), "code": code})


def test_r18_sign_in_asks_for_a_code_and_rejects_its_reuse(client):
    secret, _codes = enrol(client)
    totp = pyotp.TOTP(secret)
    with time_machine.travel(utcnow() + timedelta(seconds=60), tick=False):
        code = totp.now()
        assert sign_in(client, "tfa@example.org").headers["Location"] == "/sign-in/code"
        assert client.get("/dashboard").status_code == 302
        assert code_step(client, code).status_code == 302
        assert client.get("/dashboard").status_code == 200
        post_form(client, "/sign-out", page_url="/dashboard")
        sign_in(client, "tfa@example.org")
        response = code_step(client, code)
        assert response.status_code == 200
        assert "That code did not work" in response.get_data(as_text=True)


def test_r18_code_two_steps_old_fails(client):
    secret, _codes = enrol(client)
    now = utcnow() + timedelta(minutes=5)
    with time_machine.travel(now, tick=False):
        old = pyotp.TOTP(secret).at(now - timedelta(seconds=61))
        sign_in(client, "tfa@example.org")
        assert code_step(client, old).status_code == 200


def test_r18_five_wrong_codes_are_throttled(client):
    enrol(client)
    sign_in(client, "tfa@example.org")
    statuses = [code_step(client, "000000").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_r19_recovery_codes_work_once_and_are_stored_hashed(client):
    _secret, codes = enrol(client)
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10
    assert not any(code.replace("-", "") in h or code in h for h in stored for code in codes)
    assert all(re.fullmatch(r"sha256\$[0-9a-f]{64}", h) for h in stored)  # 80-bit codes
    sign_in(client, "tfa@example.org")
    assert code_step(client, codes[0]).status_code == 302
    post_form(client, "/sign-out", page_url="/dashboard")
    sign_in(client, "tfa@example.org")
    assert code_step(client, codes[0]).status_code == 200


def test_disabling_two_factor_needs_the_password(client):
    secret, _codes = enrol(client)
    sign_in(client, "tfa@example.org")
    with time_machine.travel(utcnow() + timedelta(seconds=90), tick=False):
        code_step(client, pyotp.TOTP(secret).now())
        page = client.get("/account/two-factor")
        wrong = client.post("/account/two-factor/disable",
                            data={"csrf_token": csrf_token(page), "password": "nope nope"})
        assert wrong.status_code == 400
        ok = client.post("/account/two-factor/disable",
                         data={"csrf_token": csrf_token(page), "password": PASSWORD})
        assert ok.status_code == 302
    user = find_user("tfa@example.org")
    assert user.totp_secret is None
    assert db.session.scalars(select(RecoveryCode)).all() == []


# --- R20: re-authentication -------------------------------------------------------

@pytest.mark.parametrize("path", ["/account/password", "/account/email"])
def test_r20_sensitive_pages_ask_again_after_ten_minutes(client, path):
    make_user("r20@example.org")
    sign_in(client, "r20@example.org")
    assert client.get(path).status_code == 200
    # Stay active, so only the re-authentication window runs out.
    with time_machine.travel(utcnow(), tick=False) as traveller:
        for _ in range(2):
            traveller.shift(timedelta(minutes=5, seconds=30))
            client.get("/dashboard")
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/account/confirm?next=")
        page = client.get(response.headers["Location"])
        confirmed = client.post("/account/confirm", data={
            "csrf_token": csrf_token(page), "password": PASSWORD, "next": path})
        assert confirmed.headers["Location"] == path
        assert client.get(path).status_code == 200


# --- R23 / R24: timeouts and revocation --------------------------------------------

def test_r23_member_session_idle_and_absolute_timeouts(client):
    make_user("idle@example.org")
    with time_machine.travel(utcnow(), tick=False) as traveller:
        sign_in(client, "idle@example.org")
        traveller.shift(timedelta(minutes=30, seconds=1))
        assert client.get("/dashboard").status_code == 302
        sign_in(client, "idle@example.org")
        for _ in range(24):  # active every 29 minutes for 11.6 hours
            traveller.shift(timedelta(minutes=29))
            assert client.get("/dashboard").status_code == 200
        traveller.shift(timedelta(minutes=29))
        assert client.get("/dashboard").status_code == 302


def test_r23_organisers_have_shorter_timeouts_and_no_remember_me(client):
    user = make_user("org@example.org")
    make_membership(user, make_hub(), MemberRole.ORGANISER)
    with time_machine.travel(utcnow(), tick=False) as traveller:
        sign_in(client, "org@example.org", remember=True)
        assert db.session.scalar(select(UserSession.remember)) is False
        traveller.shift(timedelta(minutes=15, seconds=1))
        assert client.get("/dashboard").status_code == 302


def test_r23_remember_me_keeps_a_member_signed_in_but_not_past_14_days(client):
    make_user("rem@example.org")
    with time_machine.travel(utcnow(), tick=False) as traveller:
        sign_in(client, "rem@example.org", remember=True)
        traveller.shift(timedelta(days=3))
        assert client.get("/dashboard").status_code == 200
        traveller.shift(timedelta(days=11, seconds=1))
        assert client.get("/dashboard").status_code == 302


def test_r24_sessions_are_listed_and_revoked_from_another_device(app, client):
    make_user("many@example.org")
    phone = app.test_client()
    sign_in(phone, "many@example.org")
    sign_in(client, "many@example.org")
    page = client.get("/account/security")
    body = page.get_data(as_text=True)
    assert body.count('name="target"') == 2
    assert "203.0.113" not in body
    records = db.session.scalars(select(UserSession)).all()
    current = client.get_cookie("__Host-session")
    del current
    phone_record = [r for r in records if r.public_id in body][0]
    others = client.post("/account/sessions/revoke-others",
                         data={"csrf_token": csrf_token(page)})
    assert others.status_code == 302
    assert phone.get("/dashboard").status_code == 302
    assert client.get("/dashboard").status_code == 200
    del phone_record


def test_r24_revoke_one_session_of_my_own_only(app, client):
    other_user = make_user("other@example.org")
    other = app.test_client()
    sign_in(other, "other@example.org")
    make_user("me@example.org")
    sign_in(client, "me@example.org")
    foreign = db.session.scalar(select(UserSession).where(UserSession.user_id == other_user.id))
    page = client.get("/account/security")
    response = client.post("/account/sessions/revoke",
                           data={"csrf_token": csrf_token(page), "target": foreign.public_id})
    assert response.status_code == 404
    assert other.get("/dashboard").status_code == 200


def test_email_change_is_confirmed_at_the_new_address_and_old_one_is_told(client):
    user = make_user("old@example.org")
    sign_in(client, "old@example.org")
    page = client.get("/account/email")
    response = client.post("/account/email", data={
        "csrf_token": csrf_token(page), "email": "new@example.org", "password": PASSWORD})
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.email == "old@example.org"
    path = link_in(outbox("new@example.org")[-1], "/account/email/confirm/")
    confirm_page = client.get(path)
    client.post(path, data={"csrf_token": csrf_token(confirm_page)})
    db.session.refresh(user)
    assert user.email == "new@example.org"
    assert "email address was changed" in outbox("old@example.org")[-1].subject
