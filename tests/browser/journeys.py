"""What the journey tests share: signing in as a person would, JavaScript off."""

from __future__ import annotations

import pyotp

PASSWORD = "correct horse battery staple"


def signed_in_page(new_context, email: str, secret: str | None = None, *,
                   password: str = PASSWORD):
    """A new English page, JavaScript off, signed in as ``email`` (and its
    two-factor code when ``secret`` is given), on the dashboard."""
    page = new_context("en", javascript=False).new_page()
    page.goto("/sign-in")
    page.fill("#email", email)
    page.fill("#password", password)
    page.locator("main button[type=submit]").click()
    if secret:
        assert page.url.endswith("/sign-in/code"), page.url
        page.fill("#code", pyotp.TOTP(secret).now())
        page.locator("main button[type=submit]").click()
    assert page.url.endswith("/dashboard"), page.url
    return page
