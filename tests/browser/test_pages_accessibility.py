"""Every main page, for a visitor, a member and a lead, in both languages:
no request to another origin, no CSP violation, no serious axe finding."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from community.auth.services import find_user
from community.events.models import Audience, Event, EventStatus
from community.extensions import db
from tests.browser.conftest import describe_violations

pytestmark = [pytest.mark.browser, pytest.mark.no_db]

LOCALES = ["en", "zh_Hant_HK"]


def public_event_id(live_server) -> str:
    with live_server.app.app_context():
        return db.session.scalar(
            select(Event.public_id).where(Event.status == EventStatus.PUBLISHED,
                                          Event.audience == Audience.PUBLIC).limit(1))


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("path", ["/events", "/hubs", "/hubs/london", "/chapters/uk",
                                  "/events?chapter=uk&language=yue", "/hubs?q=london"])
def test_public_pages(check_page, path, locale):
    visited = check_page(path, locale)
    assert visited.status == 200


@pytest.mark.parametrize("locale", LOCALES)
def test_event_page(check_page, live_server, locale):
    visited = check_page(f"/events/{public_event_id(live_server)}", locale)
    assert visited.status == 200
    assert visited.page.locator("h1").count() == 1


def signed_in_page(live_server, page_opener, email, locale, *, code=False):
    page = page_opener.new_context(locale).new_page()
    page.goto("/sign-in")
    page.fill("#email", email)
    page.fill("#password", live_server.password)
    page.locator("main button[type=submit]").click()
    if code:
        with live_server.app.app_context():
            secret = find_user(email).totp_secret
        page.fill("#code", pyotp.TOTP(secret).now())
        page.locator("main button[type=submit]").click()
    return page


def assert_accessible(page_opener, page, path):
    response = page.goto(path)
    assert response is not None and response.status == 200, path
    serious = [v for v in page_opener.run_axe(page) if v.get("impact") in ("serious", "critical")]
    assert serious == [], f"{path}\n{describe_violations(serious)}"


@pytest.mark.parametrize("locale", LOCALES)
def test_member_pages(live_server, page_opener, locale):
    page = signed_in_page(live_server, page_opener, "member2.london@example.org", locale)
    for path in ("/dashboard", "/account/settings", "/account/security", "/hubs/london",
                 "/hubs/london/members", f"/events/{public_event_id(live_server)}",
                 "/hubs/register", "/account/names", "/account/travel",
                 "/hubs/london/vouching"):
        assert_accessible(page_opener, page, path)


@pytest.mark.parametrize("locale", LOCALES)
def test_lead_pages(live_server, page_opener, locale):
    email = "lead.manchester@example.org" if locale == "en" else "lead.london@example.org"
    with live_server.app.app_context():
        user = find_user(email)
        user.totp_secret = user.totp_secret or pyotp.random_base32()
        user.totp_last_timecode = None  # as in test_admin_pages: no false replay
        db.session.commit()
    slug = email.split(".")[1].split("@")[0]
    page = signed_in_page(live_server, page_opener, email, locale, code=True)
    for path in (f"/hubs/{slug}/organise/members", f"/hubs/{slug}/organise/audit",
                 f"/hubs/{slug}/settings", f"/hubs/{slug}/settings/invites",
                 f"/hubs/{slug}/organise/vouches"):
        assert_accessible(page_opener, page, path)


@pytest.mark.parametrize("locale", LOCALES)
def test_admin_pages(live_server, page_opener, locale):
    email = "admin@example.org"
    with live_server.app.app_context():
        user = find_user(email)
        user.totp_secret = user.totp_secret or pyotp.random_base32()
        # Each language signs in afresh within one 30-second step; forget the
        # last code so the second sign-in is not refused as a replay (R18).
        user.totp_last_timecode = None
        db.session.commit()
    page = signed_in_page(live_server, page_opener, email, locale, code=True)
    for path in ("/admin/", "/admin/users", "/admin/audit", "/admin/reports",
                 "/admin/chapters", "/admin/hubs", "/chapters/uk/registrations",
                 "/chapters/uk/moderation", "/chapters/uk/audit"):
        assert_accessible(page_opener, page, path)
