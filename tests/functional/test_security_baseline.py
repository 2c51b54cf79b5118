"""Security baseline of SECURITY.md: headers, cookies, CSRF, hosts, limits, config."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import func, select

from community import UnsafeConfiguration, create_app
from community.config import DEFAULT_SECRET_KEY
from community.encryption import new_key
from community.extensions import db
from community.factories import make_event
from community.security import CONTENT_SECURITY_POLICY
from tests.conftest import TEST_SECRET, base_config

EXPECTED_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=(), payment=()",
}


def assert_security_headers(response):
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert "Server" not in response.headers
    assert "X-Powered-By" not in response.headers
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp


@pytest.fixture
def failing_app(database_url):
    """An app with one extra route that raises, to see the 500 page."""
    app = create_app(base_config(database_url) | {"PROPAGATE_EXCEPTIONS": False})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret-traceback-marker SELECT * FROM users")

    return app


@pytest.mark.parametrize(
    "path", ["/", "/no-such-page", "/static/harbour.css"]
)
def test_r27_security_headers_on_pages_errors_and_static(client, path):
    assert_security_headers(client.get(path))


def test_r27_security_headers_on_redirects_and_405(client):
    page = client.get("/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    redirect = client.post("/language", data={"csrf_token": token, "locale": "en"})
    assert redirect.status_code == 302
    assert_security_headers(redirect)
    assert_security_headers(client.get("/language"))  # 405


def test_r46_unexpected_error_is_a_generic_500_without_traceback(failing_app):
    response = failing_app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "secret-traceback-marker" not in body and "Traceback" not in body
    assert "SELECT" not in body
    assert "Something went wrong" in body
    assert_security_headers(response)


def test_r21_session_cookie_attributes(client):
    response = client.get("/")
    cookie_header = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("__Host-session=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie_header.split(";")}
    assert {"secure", "httponly", "path"} <= attributes
    assert "domain" not in attributes
    assert "samesite=lax" in cookie_header.lower()
    assert "path=/" in cookie_header.lower()
    # A browser-session cookie: no remember-me lifetime by default.
    assert "expires" not in cookie_header.lower()
    assert "__Host-session" in SimpleCookie(cookie_header)


def test_r21_remember_cookie_settings_are_bounded(app):
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert app.config["REMEMBER_COOKIE_DURATION"].days <= 14


def test_r25_pages_are_not_cached_and_vary_on_cookie(client):
    response = client.get("/")
    assert response.headers["Cache-Control"] == "no-store"
    assert "Cookie" in response.headers["Vary"]


def test_r26_every_post_route_rejects_a_missing_csrf_token(app, client):
    post_rules = [r for r in app.url_map.iter_rules() if "POST" in (r.methods or set())]
    assert post_rules, "expected at least the language switch"
    for rule in post_rules:
        url = re.sub(r"<[^>]+>", "x", rule.rule)
        response = client.post(url, data={"locale": "zh_Hant_HK"})
        assert response.status_code in (400, 404), rule.rule
        if response.status_code == 400:
            assert "expired or was sent from another site" in response.get_data(as_text=True)


def test_r26_no_get_route_changes_the_database(app, client):
    make_event()
    tables = db.metadata.sorted_tables

    def snapshot():
        return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in tables}

    before = snapshot()
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or set()) and rule.endpoint != "static":
            client.get(re.sub(r"<[^>]+>", "x", rule.rule))
    assert snapshot() == before


def test_r29_untrusted_host_is_refused(client):
    response = client.get("/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "Bad request" in response.get_data(as_text=True)


def test_r36_oversized_request_is_refused_with_413(client):
    response = client.post("/language", data={"locale": "x" * (11 * 1024 * 1024)})
    assert response.status_code == 413
    assert "larger than we accept" in response.get_data(as_text=True)


def test_r36_request_limits_are_configured(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024
    assert app.config["MAX_FORM_MEMORY_SIZE"] == 500_000
    assert app.config["MAX_FORM_PARTS"] == 1000


SAFE_PRODUCTION = {
    "HARBOUR_ENV": "production",
    "SECRET_KEY": TEST_SECRET,
    "SESSION_COOKIE_SECURE": True,
    "TRUSTED_HOSTS": ["harbour.example"],
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
    "BASE_URL": "https://harbour.example",
    "DEBUG": False,
    # Real keys, made for this run (the published testing keys are refused).
    "HARBOUR_DATA_KEYS": [f"prod1:{new_key()}"],
    "HARBOUR_INDEX_KEY": new_key(),
}


def test_r46_safe_production_configuration_starts(database_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url} | SAFE_PRODUCTION)
    assert app.config["HARBOUR_ENV"] == "production"


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"SECRET_KEY": DEFAULT_SECRET_KEY}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SESSION_COOKIE_SECURE": False}, "SESSION_COOKIE_SECURE"),
        ({"TRUSTED_HOSTS": None}, "TRUSTED_HOSTS"),
        ({"RATELIMIT_STORAGE_URI": "memory://"}, "RATELIMIT_STORAGE_URI"),
        ({"DEBUG": True}, "DEBUG"),
        ({"BASE_URL": "http://harbour.example"}, "BASE_URL"),
    ],
)
def test_r46_production_refuses_unsafe_configuration(database_url, override, complaint):
    config = {"SQLALCHEMY_DATABASE_URI": database_url} | SAFE_PRODUCTION | override
    with pytest.raises(UnsafeConfiguration, match=complaint):
        create_app(config)


def test_r46_production_is_the_default_and_refuses_the_default_key(monkeypatch, database_url):
    for name in ("FLASK_HARBOUR_ENV", "FLASK_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UnsafeConfiguration, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url})


def test_r46_debug_console_is_unreachable(client):
    assert client.get("/console").status_code == 404
    for url in ("/?__debugger__=yes&cmd=resource&f=style.css", "/console?__debugger__=yes"):
        assert b"Werkzeug" not in client.get(url).data


def test_r46_no_trace_method(client):
    assert client.open("/", method="TRACE").status_code == 405


def test_r7_public_ids_carry_128_random_bits(app):
    import base64

    ids = [make_event().public_id for _ in range(50)]
    assert len(set(ids)) == 50
    for public_id in ids:
        raw = base64.urlsafe_b64decode(public_id + "=" * (-len(public_id) % 4))
        assert len(raw) >= 16
    assert ids != sorted(ids)


def test_r37_rate_limit_key_is_not_the_address(app):
    from community.security import rate_limit_key

    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "203.0.113.77"}):
        key = rate_limit_key()
    assert "203.0.113.77" not in key
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "203.0.113.78"}):
        assert rate_limit_key() != key
