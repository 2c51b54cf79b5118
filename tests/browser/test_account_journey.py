"""A new member's first visit, in a real browser with JavaScript off:
sign up, verify from the captured email, sign in, set up two-factor,
sign out, and sign in again with a code."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from community.encryption import blind_index
from community.extensions import db
from community.outbox_models import OutboxEmail
from tests.browser.conftest import describe_violations

pytestmark = [pytest.mark.browser, pytest.mark.no_db]

PASSWORD = "saffron kettle drizzle moonlight"


def last_email_to(live_server, address: str) -> OutboxEmail:
    with live_server.app.app_context():
        email = db.session.scalar(
            select(OutboxEmail).where(OutboxEmail.to_index == blind_index(address))
            .order_by(OutboxEmail.id.desc()).limit(1)
        )
        assert email is not None, f"no email to {address}"
        db.session.expunge(email)
        return email


def site_path(email: OutboxEmail, prefix: str) -> str:
    match = re.search(r"https?://[^/\s]+(" + re.escape(prefix) + r"[^\s<\"]*)", email.body_text)
    assert match, email.body_text
    return match.group(1)


@pytest.mark.parametrize("locale", ["en", "zh_Hant_HK"])
def test_sign_up_verify_two_factor_and_sign_in_again_without_javascript(
    live_server, new_context, locale
):
    address = f"journey-{locale.lower()}@example.org"
    page = new_context(locale, javascript=False).new_page()

    page.goto("/sign-up")
    page.fill("#email", address)
    page.fill("#display_name", "Journey")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.select_option("#locale", locale)
    page.locator("main button[type=submit]").click()
    assert page.url.endswith("/sign-up/check-your-inbox")

    verify = site_path(last_email_to(live_server, address), "/verify-email/")
    page.goto(verify)
    page.locator("main button[type=submit]").click()

    page.goto("/sign-in")
    page.fill("#email", address)
    page.fill("#password", PASSWORD)
    page.locator("main button[type=submit]").click()
    assert page.url.endswith("/dashboard")
    assert page.locator("h1").inner_text().endswith("Journey")

    page.goto("/account/two-factor")
    secret = page.locator("code.secret").inner_text().strip()
    assert page.locator("img[src^='data:image/svg+xml']").count() == 1
    page.fill("#code", pyotp.TOTP(secret).now())
    page.locator("main button[type=submit]").click()
    codes = page.locator("ul.codes code").all_inner_texts()
    assert len(codes) == 10

    page.locator("form.sign-out button").click()
    assert page.locator("a[href='/sign-in']").count() >= 1

    page.goto("/sign-in")
    page.fill("#email", address)
    page.fill("#password", PASSWORD)
    page.locator("main button[type=submit]").click()
    assert page.url.endswith("/sign-in/code")
    # The code used at set-up cannot be replayed, so use a recovery code.
    page.fill("#code", codes[0])
    page.locator("main button[type=submit]").click()
    assert page.url.endswith("/dashboard")


@pytest.mark.parametrize("locale", ["en", "zh_Hant_HK"])
@pytest.mark.parametrize("path", ["/sign-up", "/sign-in", "/reset-password", "/no-such-page"])
def test_account_pages_are_accessible_and_load_nothing_foreign(check_page, path, locale):
    visited = check_page(path, locale)
    assert visited.status in (200, 404)
    assert visited.page.locator("h1").count() == 1


def test_signed_in_pages_are_accessible(live_server, page_opener):
    context = page_opener.new_context("en")
    page = context.new_page()
    page.goto("/sign-in")
    page.fill("#email", "member1.london@example.org")
    page.fill("#password", live_server.password)
    page.locator("main button[type=submit]").click()
    for path in ("/dashboard", "/account/security", "/account/two-factor"):
        page.goto(path)
        violations = [v for v in page_opener.run_axe(page)
                      if v.get("impact") in ("serious", "critical")]
        assert violations == [], describe_violations(violations)
