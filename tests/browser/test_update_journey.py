"""Issue 6's journey, with JavaScript off: an organiser posts a bilingual
members-only update, each member gets exactly one email in their own
language, members comment, one comment is hidden and another reported, and
the update stays out of the public feed."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from community.admin.models import Report
from community.auth.models import User
from community.auth.services import find_user
from community.encryption import blind_index
from community.extensions import db
from community.outbox_models import OutboxEmail

pytestmark = [pytest.mark.browser, pytest.mark.no_db]

TITLE_EN = "Members' briefing MARKER"
TITLE_ZH = "會員簡報 MARKER"


def sign_in(page, live_server, email, *, code=False):
    page.goto("/sign-in")
    page.fill("#email", email)
    page.fill("#password", live_server.password)
    page.locator("main button[type=submit]").click()
    if code:
        with live_server.app.app_context():
            secret = find_user(email).totp_secret
        page.fill("#code", pyotp.TOTP(secret).now())
        page.locator("main button[type=submit]").click()
    assert page.url.endswith("/dashboard"), page.url


def test_members_only_update_journey(live_server, new_context):
    app = live_server.app
    with app.app_context():
        lead = find_user("lead.manchester@example.org")
        lead.totp_secret = lead.totp_secret or pyotp.random_base32()
        # Another browser test may have signed this lead in during this 30-second
        # step; forget that code so this sign-in is not refused as a replay (R18).
        lead.totp_last_timecode = None
        chinese = db.session.scalar(
            select(User).where(User.email_index == blind_index("member2.manchester@example.org")))
        chinese.locale = "zh_Hant_HK"
        db.session.commit()

    organiser = new_context("en", javascript=False).new_page()
    sign_in(organiser, live_server, "lead.manchester@example.org", code=True)
    organiser.goto("/hubs/manchester/updates/new")
    organiser.fill("#title_en", TITLE_EN)
    organiser.fill("#body_en", "We meet on **Saturday**.")
    organiser.fill("#title_zh", TITLE_ZH)
    organiser.fill("#body_zh", "星期六見。")
    organiser.select_option("#audience", "members")
    organiser.check("#allow_comments")
    organiser.check("#publish")
    organiser.locator("main form.stack button[type=submit]").click()
    update_path = "/updates/" + re.search(r"/updates/([\w-]+)", organiser.url).group(1)

    with app.app_context():
        # Subjects are encrypted (R40): read them, then pick.
        mails = [mail for mail in db.session.scalars(select(OutboxEmail))
                 if "MARKER" in mail.subject]
        by_person = {m.to_address: m for m in mails}
    assert len(mails) == len(by_person) == 2  # one each, nobody twice, not the author
    assert TITLE_EN in by_person["member1.manchester@example.org"].subject
    assert TITLE_ZH in by_person["member2.manchester@example.org"].subject
    assert "List-Unsubscribe" in by_person["member1.manchester@example.org"].extra_headers

    first = new_context("en", javascript=False).new_page()
    sign_in(first, live_server, "member1.manchester@example.org")
    first.goto(update_path)
    assert first.locator("h1").inner_text() == TITLE_EN
    first.fill("#body", "Count me in")
    first.locator("button:has-text('Post comment')").click()

    second = new_context("zh_Hant_HK", javascript=False).new_page()
    sign_in(second, live_server, "member2.manchester@example.org")
    second.goto(update_path)
    assert second.locator("h1").inner_text() == TITLE_ZH
    second.fill("#body", "我都會嚟")
    second.locator("main form[action$='/comments'] button[type=submit]").click()

    # The organiser hides the first comment with a reason.
    organiser.goto(update_path)
    organiser.locator("article.comment:has-text('Count me in') a:has-text('Hide')").click()
    organiser.fill("#reason", "Off topic")
    organiser.locator("main form button[type=submit]").click()
    first.goto(update_path)
    assert "Off topic" in first.content()

    # The first member reports the second comment.
    first.locator("article.comment:has-text('我都會嚟') a:has-text('Report')").click()
    first.fill("#reason", "Testing the report button")
    first.locator("main form button[type=submit]").click()
    with app.app_context():
        # The reason is encrypted: read the reports rather than filter on it.
        assert "Testing the report button" in [
            report.reason for report in db.session.scalars(select(Report))]

    # Members-only: never in the public feed, and 404 to a visitor.
    visitor = new_context("en", javascript=False).new_page()
    feed = visitor.goto("/hubs/manchester/updates.atom")
    assert feed.status == 200 and "MARKER" not in feed.text()
    assert visitor.goto(update_path).status == 404
