"""Own your data (DESIGN §2 rule 9): the JSON export (R42) and account
deletion (R43), both behind re-authentication (R20), through the real forms."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from sqlalchemy import select

from community.admin.models import Report, ReportTarget
from community.audit_models import AuditEntry
from community.auth import totp
from community.auth.models import User
from community.auth.services import find_user
from community.database import utcnow
from community.events.models import Rsvp, RsvpStatus
from community.extensions import db
from community.factories import (
    make_coordinator,
    make_event,
    make_hub,
    make_membership,
    make_rsvp,
    make_update,
    make_user,
)
from community.hubs.models import Invite, MemberRole
from community.mail import queue_email, queue_templated_email
from community.updates.models import Comment, Update
from tests.conftest import csrf_token, outbox, sign_in
from tests.unit.test_member_services import EXPORT_SCHEMA, shape_problems

PASSWORD = "correct horse battery staple"


def export(client):
    page = client.get("/account/export")
    return client.post("/account/export", data={"csrf_token": csrf_token(page)})


def delete(client, password=PASSWORD):
    page = client.get("/account/delete")
    return client.post("/account/delete", data={"csrf_token": csrf_token(page),
                                                "password": password})


def dump_database() -> str:
    """Every row of every table as text, as a leaked SQL dump would show it."""
    db.session.expire_all()
    lines = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            lines.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(lines)


# --- R20: both ask for the password again ---------------------------------------------

@pytest.mark.parametrize("path", ["/account/export", "/account/delete"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_r20_export_and_delete_ask_again_after_ten_minutes(client, path, method):
    make_user("r20-data@example.org")
    sign_in(client, "r20-data@example.org")
    page = client.get(path)
    assert page.status_code == 200
    token = csrf_token(page)
    with time_machine.travel(utcnow(), tick=False) as traveller:
        for _ in range(2):  # stay active so only the re-authentication window runs out
            traveller.shift(timedelta(minutes=5, seconds=30))
            client.get("/dashboard")
        response = client.open(path, method=method,
                               data={"csrf_token": token, "password": PASSWORD})
        assert response.status_code == 302
        assert response.headers["Location"] == "/account/confirm?next=" + path
    assert find_user("r20-data@example.org")


@pytest.mark.parametrize("path", ["/account/export", "/account/delete"])
def test_export_and_delete_need_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=")


@pytest.mark.parametrize("path", ["/account/export", "/account/delete"])
def test_export_and_delete_need_a_csrf_token(client, path):
    make_user("csrf-data@example.org")
    sign_in(client, "csrf-data@example.org")
    response = client.post(path, data={"password": PASSWORD})
    assert response.status_code == 400
    assert find_user("csrf-data@example.org")


# --- R42: export ------------------------------------------------------------------------

def test_export_page_explains_and_offers_a_post_button(client):
    make_user("explain@example.org")
    sign_in(client, "explain@example.org")
    body = client.get("/account/export").get_data(as_text=True)
    assert "we never email it" in body
    assert '<form method="post">' in body and "Download my data" in body
    assert client.get("/account/settings").status_code == 200


def seed_shared_hub():
    """Me and another member in one hub and one event, each with markers."""
    me = make_user("me-export@example.org", display_name="Export Self")
    other = make_user("OTHER-EMAIL-MARKER@example.org", display_name="OTHER-NAME-MARKER")
    hub = make_hub(slug="shared-hub")
    make_membership(me, hub, join_answer="MY-JOIN-ANSWER", organiser_notes="ORG-NOTE-MARKER")
    make_membership(other, hub, MemberRole.ORGANISER, join_answer="OTHER-ANSWER-MARKER")
    event = make_event(hub, title_en="Shared picnic", capacity=10,
                       address="HIDDEN-ADDRESS-MARKER")
    make_rsvp(event, me, note="MY-RSVP-NOTE")
    make_rsvp(event, other, note="OTHER-NOTE-MARKER")
    mine = make_update(hub, author_id=me.id, title_en="MY-UPDATE-TITLE")
    db.session.add_all([
        Comment(update=mine, author_id=me.id, body="MY-COMMENT"),
        Comment(update=mine, author_id=other.id, body="OTHER-COMMENT-MARKER"),
        AuditEntry(actor_id=other.id, subject_user_id=me.id, action="rsvps.view",
                   target_type="user", target_id=me.public_id, hub_id=hub.id,
                   detail="OTHER-NAME-MARKER looked"),
        AuditEntry(actor_id=me.id, action="member.approve", target_type="user",
                   target_id=other.public_id, hub_id=hub.id),
        Report(reporter_id=me.id, target_type=ReportTarget.USER,
               target_public_id=other.public_id, reason="MY-REPORT-REASON", hub_id=hub.id),
    ])
    db.session.flush()
    return me, other


def test_r42_export_is_a_json_download_of_my_data_only(client):
    with time_machine.travel(datetime(2026, 3, 4, 12, 0, tzinfo=UTC), tick=False):
        me, other = seed_shared_hub()
        sign_in(client, "me-export@example.org")
        # Two-factor turned on after signing in, so the sign-in needs no code.
        me.totp_secret = totp.new_secret()
        totp.new_recovery_codes(me)
        db.session.flush()
        response = export(client)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="harbour-export-2026-03-04.json"')
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    data = json.loads(text)
    assert shape_problems(data, EXPORT_SCHEMA) == []

    for mine in ("me-export@example.org", "Export Self", "MY-JOIN-ANSWER", "MY-RSVP-NOTE",
                 "MY-UPDATE-TITLE", "MY-COMMENT", "MY-REPORT-REASON", "shared-hub",
                 "Shared picnic"):
        assert mine in text
    assert data["profile"]["two_factor_enabled"] is True
    assert {e["action"] for e in data["audit_entries"]} >= {"rsvps.view", "member.approve"}
    assert len(data["sessions"]) == 1

    markers = ["OTHER-EMAIL-MARKER", "OTHER-NAME-MARKER", "OTHER-ANSWER-MARKER",
               "OTHER-NOTE-MARKER", "OTHER-COMMENT-MARKER", other.public_id,
               "ORG-NOTE-MARKER", "HIDDEN-ADDRESS-MARKER"]
    for marker in markers:
        assert marker.casefold() not in text.casefold(), marker
    stored = db.session.scalar(select(User).where(User.id == me.id))
    for secret in (stored.password_hash, stored.totp_secret, *[
            code.code_hash for code in stored.recovery_codes]):
        assert secret not in text


def test_export_is_recorded_in_the_audit_log_and_never_emailed(client):
    me = make_user("audited@example.org")
    sign_in(client, "audited@example.org")
    assert export(client).status_code == 200
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "account.export"))
    assert entry.actor_id == me.id and entry.subject_user_id == me.id
    assert outbox() == []


# --- R43: deletion ----------------------------------------------------------------------

def test_delete_page_explains_what_goes_and_what_stays(client):
    make_user("explain-delete@example.org")
    sign_in(client, "explain-delete@example.org")
    body = client.get("/account/delete").get_data(as_text=True)
    assert "cannot be undone" in body
    assert "deleted member" in body
    assert 'type="password"' in body and 'autocomplete="current-password"' in body
    assert 'href="/account/export"' in body


@pytest.mark.parametrize("password", ["", "not my password at all"])
def test_delete_needs_the_right_password(client, password):
    make_user("stay@example.org")
    sign_in(client, "stay@example.org")
    response = delete(client, password)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Enter your password." in body or "Your password is not right." in body
    assert find_user("stay@example.org")
    assert client.get("/dashboard").status_code == 200


def test_r14_wrong_passwords_on_the_delete_form_are_throttled(client):
    make_user("throttle-delete@example.org")
    sign_in(client, "throttle-delete@example.org")
    statuses = [delete(client, f"wrong password {n}").status_code for n in range(10)]
    assert statuses == [200] * 10
    with mock.patch("community.members.services.verify_password") as verify:
        assert delete(client).status_code == 429
        verify.assert_not_called()
    assert find_user("throttle-delete@example.org")


EMAIL = "Gone.Marker.Q7@example.org"
NAME = "GONE-NAME-MARKER-Q7"


def seed_everything_about_me():
    """A member with a bit of everything Harbour can hold about a person."""
    me = make_user(EMAIL, display_name=NAME, calendar_token_hash="d" * 64)
    other = make_user("neighbour@example.org", display_name="Neighbour")
    hub = make_hub(proposed_by_id=me.id)
    make_membership(me, hub, MemberRole.LEAD, join_answer=f"{NAME} here",
                    organiser_notes=f"{NAME} is reliable", listed_to_members=True)
    make_membership(other, hub)
    make_coordinator(me, hub.chapter)
    event = make_event(hub, capacity=1, created_by_id=me.id)
    make_rsvp(event, me, note=f"{NAME} brings cake", created_at=utcnow() - timedelta(hours=1))
    waiting = make_rsvp(event, other, RsvpStatus.WAITLISTED)
    update = make_update(hub, author_id=me.id, title_en="A kept update")
    db.session.add_all([
        Comment(update=update, author_id=me.id, body="A kept comment"),
        Comment(update=update, author_id=other.id, body="hidden", hidden_by_id=me.id,
                hidden_at=utcnow()),
        Invite(token_hash="e" * 64, hub_id=hub.id, created_by_id=me.id),
        Report(reporter_id=me.id, target_type=ReportTarget.EVENT, target_public_id="x",
               reason="spam", hub_id=hub.id),
        AuditEntry(actor_id=me.id, action="attendees.view", target_type="event",
                   target_id=event.public_id, hub_id=hub.id),
        AuditEntry(actor_id=other.id, subject_user_id=me.id, action="member.promote",
                   target_type="user", target_id=me.public_id, hub_id=hub.id),
    ])
    db.session.flush()
    queue_templated_email(to_address=EMAIL, locale="en", template="test_message",
                          user_id=me.id, display_name=NAME, topic=f"For {NAME}", note="n",
                          day=utcnow().date())
    # Mail tied to the address only, as an email-change notice is.
    queue_email(db.session, to_address=EMAIL.lower(), subject=f"Hello {NAME}",
                body_text="b")
    return me, other, update, waiting


def test_r43_deletion_leaves_nothing_personal_behind(app, client):
    me, other, update, waiting = seed_everything_about_me()
    phone = app.test_client()
    sign_in(phone, EMAIL)
    sign_in(client, EMAIL)
    me.totp_secret = totp.new_secret()
    totp.new_recovery_codes(me)
    db.session.flush()
    public_id = me.public_id
    before = dump_database()
    assert EMAIL in before and NAME in before

    response = delete(client)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert response.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert "Your account is deleted." in client.get("/").get_data(as_text=True)
    dump = dump_database().casefold()
    for marker in (EMAIL, NAME, public_id, "d" * 64):
        assert marker.casefold() not in dump, marker
    # Signed out here and on every other device (R24).
    assert client.get("/dashboard").status_code == 302
    assert phone.get("/dashboard").status_code == 302
    # Content stays as "deleted member"; the freed seat went to the waiting list.
    kept = db.session.scalar(select(Update).where(Update.id == update.id))
    assert kept is not None and kept.author_id is None
    assert db.session.scalar(select(Comment).where(Comment.body == "A kept comment")) \
        .author_id is None
    assert db.session.scalar(select(Rsvp.status).where(Rsvp.id == waiting.id)) \
        is RsvpStatus.GOING
    assert db.session.scalar(select(User).where(User.id == other.id)) is not None
    actor_rows = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action.in_(["attendees.view", "account.delete"]))).all()
    assert len({row.actor_pseudonym for row in actor_rows}) == 1
    assert all(row.actor_id is None and row.actor_pseudonym for row in actor_rows)


def test_r43_after_deletion_sign_in_fails_generically_and_the_email_is_free_again(client):
    from tests.functional.test_accounts import sign_up

    make_user("again@example.org", display_name="First Life")
    sign_in(client, "again@example.org")
    assert delete(client).status_code == 302

    failed = sign_in(client, "again@example.org")
    assert failed.status_code == 200
    assert "That email and password do not match an account." in failed.get_data(as_text=True)

    response = sign_up(client, email="again@example.org", name="Second Life")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-up/check-your-inbox"
    user = find_user("again@example.org")
    assert user is not None and user.display_name == "Second Life"
    assert "Confirm" in outbox("again@example.org")[-1].subject
