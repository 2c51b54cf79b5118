"""The view guards that later organiser and admin pages rely on (R20)."""

from __future__ import annotations

import pyotp
from flask import g

from community.auth.decorators import two_factor_required, verified_required
from community.factories import make_user


def view():
    return "the page"


def call_as(app, user, guarded, path="/hub/organise?tab=1"):
    with app.test_request_context(path):
        g._login_user = user
        return guarded(view)()


def test_r20_staff_pages_send_a_user_without_two_factor_to_set_it_up(app):
    user = make_user("no2fa@example.org")
    response = call_as(app, user, two_factor_required)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/two-factor?next=")


def test_r20_staff_pages_open_with_two_factor(app):
    user = make_user("with2fa@example.org", totp_secret=pyotp.random_base32())
    assert call_as(app, user, two_factor_required) == "the page"


def test_r20_two_factor_rule_can_be_relaxed_for_a_private_test_instance(app, monkeypatch):
    monkeypatch.setitem(app.config, "TWO_FACTOR_REQUIRED_FOR_STAFF", False)
    user = make_user("relaxed@example.org")
    assert call_as(app, user, two_factor_required) == "the page"


def test_unverified_members_are_sent_to_the_dashboard_to_verify(app):
    unverified = make_user("unv@example.org", verified=False)
    response = call_as(app, unverified, verified_required)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    assert call_as(app, make_user("ver@example.org"), verified_required) == "the page"
