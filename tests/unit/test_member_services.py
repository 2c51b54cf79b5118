"""Member services without HTTP: settings, the data export's shape, the
waiting-list promotion and account deletion."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from unittest import mock

import pytest
from sqlalchemy import select

from community.audit_models import AuditEntry
from community.auth import totp
from community.auth.models import RecoveryCode, User, UserSession
from community.auth.services import find_user
from community.auth.throttle import Throttled
from community.database import utcnow
from community.events.models import EventStatus, Rsvp, RsvpStatus
from community.events.services import promote_waitlist
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
from community.hubs.models import ChapterRole, Membership
from community.mail import queue_email
from community.members import services
from community.outbox_models import OutboxEmail
from community.updates.models import Comment, Update

PASSWORD = "correct horse battery staple"

# --- the export's shape (R42) ------------------------------------------------------
# A small JSON Schema: exact keys for objects, one item shape for lists, a
# tuple for alternatives. Exact keys mean nothing unplanned slips in.

ISO = "aware ISO 8601 datetime"
HUB = {"slug": str, "name_en": str, "name_zh": str}
CHAPTER = {"code": str, "name_en": str, "name_zh": str}
EXPORT_SCHEMA = {
    "format": str,
    "version": int,
    "exported_at": ISO,
    "profile": {
        "email": str, "display_name": str, "locale": str, "timezone": str, "date_format": str,
        "created_at": ISO, "email_verified": bool, "email_verified_at": (ISO, None),
        "two_factor_enabled": bool, "password_changed_at": (ISO, None),
        "site_admin": bool, "personal_calendar_enabled": bool,
        "notifications": {"events": bool, "updates": bool, "reminders": bool,
                          "waitlist": bool, "weekly_digest": bool},
    },
    "memberships": [{"hub": HUB, "chapter": CHAPTER, "role": str, "status": str,
                     "join_answer": str, "listed_to_members": bool, "hub_display_name": str,
                     "created_at": ISO}],
    "chapter_roles": [{"chapter": CHAPTER, "role": str, "created_at": ISO}],
    "rsvps": [{"event": {"title_en": str, "title_zh": str, "starts_at": ISO,
                         "timezone": str, "hub": HUB},
               "status": str, "guests": int, "note": str, "checked_in_at": (ISO, None),
               "created_at": ISO}],
    "events_created": [{"title_en": str, "title_zh": str, "hub": HUB, "starts_at": ISO,
                        "status": str, "created_at": ISO}],
    "updates": [{"hub": (HUB, None), "chapter": (CHAPTER, None), "title_en": str,
                 "title_zh": str, "body_en": str, "body_zh": str, "audience": str,
                 "status": str, "published_at": (ISO, None), "created_at": ISO}],
    "comments": [{"update": {"title_en": str, "title_zh": str}, "body": str,
                  "hidden": bool, "edited_at": (ISO, None), "created_at": ISO}],
    "reports": [{"target_type": str, "reason": str, "status": str, "created_at": ISO}],
    "sessions": [{"device": str, "created_at": ISO, "last_seen_at": ISO}],
    "audit_entries": [{"action": str, "target_type": str, "by_you": bool, "about_you": bool,
                       "hub": (str, None), "chapter": (str, None), "created_at": ISO}],
}


def shape_problems(value, schema, path="$") -> list[str]:
    """Where ``value`` departs from ``schema``; empty when it conforms."""
    if isinstance(schema, tuple):
        attempts = [shape_problems(value, option, path) for option in schema]
        return [] if any(not a for a in attempts) else min(attempts, key=len)
    if schema is None:
        return [] if value is None else [f"{path}: expected null"]
    if schema == ISO:
        try:
            ok = isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
        except ValueError:
            ok = False
        return [] if ok else [f"{path}: expected an aware datetime, got {value!r}"]
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        if set(value) != set(schema):
            return [f"{path}: keys {sorted(set(value) ^ set(schema))} differ"]
        return [p for key in schema for p in shape_problems(value[key], schema[key],
                                                              f"{path}.{key}")]
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [p for i, item in enumerate(value)
                for p in shape_problems(item, schema[0], f"{path}[{i}]")]
    if schema is int and isinstance(value, bool):
        return [f"{path}: expected a number, got a boolean"]
    return [] if isinstance(value, schema) else [f"{path}: expected {schema.__name__}"]


@pytest.fixture
def request_ctx(app):
    """Services that flash messages or throttle need a request, as in a route."""
    with app.test_request_context():
        yield


def test_export_of_a_new_account_has_the_shape_and_empty_lists():
    user = make_user("fresh@example.org", display_name="Fresh")
    data = services.export_user_data(user)
    assert shape_problems(data, EXPORT_SCHEMA) == []
    assert data["format"] == "harbour-export" and data["version"] == 1
    assert data["profile"]["email"] == "fresh@example.org"
    assert data["profile"]["two_factor_enabled"] is False
    for key in ("memberships", "chapter_roles", "rsvps", "events_created", "updates",
                "comments", "reports", "sessions", "audit_entries"):
        assert data[key] == []
    json.dumps(data)  # JSON-ready as it is


def test_r42_export_covers_my_data_and_has_the_shape():
    me = make_user("full@example.org", display_name="Full Member",
                   totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
                   calendar_token_hash="c" * 64)
    hub = make_hub(slug="full-hub")
    make_membership(me, hub, join_answer="I organise picnics",
                    organiser_notes="ORGANISER-ONLY-NOTE")
    make_coordinator(me, hub.chapter)
    event = make_event(hub, title_en="Picnic", capacity=10, created_by_id=me.id,
                       address="ADDRESS-ONLY-FOR-ATTENDEES")
    make_rsvp(event, me, guests=1, note="bringing tea")
    update = make_update(hub, author_id=me.id, title_en="My post")
    db.session.add(Comment(update=update, author_id=me.id, body="my own comment"))
    db.session.add(UserSession(user=me, token_hash="a" * 64, device_label="Firefox on Linux",
                               last_seen_at=utcnow()))
    db.session.add(AuditEntry(actor_id=me.id, action="attendees.view", target_type="event",
                              target_id=event.public_id, hub_id=hub.id,
                              detail="detail text"))
    totp.new_recovery_codes(me)
    db.session.flush()

    data = services.export_user_data(me)
    assert shape_problems(data, EXPORT_SCHEMA) == []
    assert data["profile"]["two_factor_enabled"] is True
    assert data["profile"]["personal_calendar_enabled"] is True
    assert data["memberships"][0]["join_answer"] == "I organise picnics"
    assert data["memberships"][0]["hub"]["slug"] == "full-hub"
    assert data["chapter_roles"][0]["role"] == "coordinator"
    assert data["rsvps"][0]["note"] == "bringing tea"
    assert data["rsvps"][0]["guests"] == 1
    assert data["events_created"][0]["title_en"] == "Picnic"
    assert data["updates"][0]["title_en"] == "My post"
    assert data["comments"][0]["body"] == "my own comment"
    assert data["sessions"][0]["device"] == "Firefox on Linux"
    assert data["audit_entries"][0] | {"created_at": None} == {
        "action": "attendees.view", "target_type": "event", "by_you": True,
        "about_you": False, "hub": "full-hub", "chapter": None, "created_at": None}
    text = json.dumps(data, ensure_ascii=False)
    secrets = [me.password_hash, me.totp_secret, me.calendar_token_hash, "a" * 64,
               *db.session.scalars(select(RecoveryCode.code_hash))]
    for secret in [*secrets, "ORGANISER-ONLY-NOTE", "ADDRESS-ONLY-FOR-ATTENDEES",
                   "detail text", event.public_id]:
        assert secret not in text


# --- settings ---------------------------------------------------------------------------

def test_update_settings_changes_the_declared_fields(request_ctx):
    user = make_user(display_name="Before")
    services.update_settings(user, display_name="After", locale="zh_Hant_HK",
                             timezone="Asia/Hong_Kong", notify_events=False,
                             notify_updates=False, notify_reminders=True,
                             notify_waitlist=False, weekly_digest=True)
    assert (user.display_name, user.locale, user.timezone) == ("After", "zh_Hant_HK",
                                                               "Asia/Hong_Kong")
    assert (user.notify_events, user.notify_updates, user.notify_reminders,
            user.notify_waitlist, user.weekly_digest) == (False, False, True, False, True)


@pytest.mark.parametrize(("locale", "zone", "field"), [
    ("fr", "UTC", "locale"),
    ("en", "Mars/Base", "timezone"),
    ("en", "", "timezone"),
])
def test_update_settings_refuses_what_is_not_offered(request_ctx, locale, zone, field):
    user = make_user(display_name="Same")
    with pytest.raises(services.AccountError) as caught:
        services.update_settings(user, display_name="Changed", locale=locale, timezone=zone,
                                 notify_events=True, notify_updates=True,
                                 notify_reminders=True, notify_waitlist=True,
                                 weekly_digest=False)
    assert caught.value.field == field
    assert user.display_name == "Same"


# --- the waiting list -------------------------------------------------------------------

def queue(event, statuses_and_guests):
    """RSVPs in the given order, one minute apart, so created_at decides the queue."""
    start = utcnow() - timedelta(hours=1)
    return [make_rsvp(event, make_user(), status, guests=guests,
                      created_at=start + timedelta(minutes=i))
            for i, (status, guests) in enumerate(statuses_and_guests)]


def test_a_freed_seat_goes_to_the_first_on_the_waiting_list():
    event = make_event(capacity=2)
    going, _other, first, second = queue(event, [
        (RsvpStatus.GOING, 0), (RsvpStatus.GOING, 0),
        (RsvpStatus.WAITLISTED, 0), (RsvpStatus.WAITLISTED, 0)])
    db.session.delete(going)
    db.session.flush()
    assert promote_waitlist(event) == [first]
    assert first.status is RsvpStatus.GOING
    assert second.status is RsvpStatus.WAITLISTED


def test_nobody_jumps_the_queue_when_the_first_does_not_fit():
    event = make_event(capacity=3)
    going, _other, big_party, single = queue(event, [
        (RsvpStatus.GOING, 0), (RsvpStatus.GOING, 1),
        (RsvpStatus.WAITLISTED, 2), (RsvpStatus.WAITLISTED, 0)])
    db.session.delete(going)
    db.session.flush()
    assert promote_waitlist(event) == []
    assert big_party.status is single.status is RsvpStatus.WAITLISTED


def test_several_seats_freed_promote_several_in_order():
    event = make_event(capacity=3)
    going, first, second, third = queue(event, [
        (RsvpStatus.GOING, 2), (RsvpStatus.WAITLISTED, 0),
        (RsvpStatus.WAITLISTED, 1), (RsvpStatus.WAITLISTED, 0)])
    db.session.delete(going)
    db.session.flush()
    assert promote_waitlist(event) == [first, second]
    assert third.status is RsvpStatus.WAITLISTED


@pytest.mark.parametrize("kind", ["cancelled", "ended"])
def test_no_promotion_for_a_cancelled_or_finished_event(kind):
    if kind == "cancelled":
        event = make_event(capacity=5, status=EventStatus.CANCELLED)
    else:
        event = make_event(capacity=5, starts_at=utcnow() - timedelta(days=2))
    [waiting] = queue(event, [(RsvpStatus.WAITLISTED, 0)])
    assert promote_waitlist(event) == []
    assert waiting.status is RsvpStatus.WAITLISTED


def test_without_a_capacity_everyone_waiting_fits():
    event = make_event(capacity=None)
    waiting = queue(event, [(RsvpStatus.WAITLISTED, 3), (RsvpStatus.WAITLISTED, 0)])
    assert promote_waitlist(event) == waiting


# --- deletion ------------------------------------------------------------------------

def test_delete_account_with_a_wrong_password_deletes_nothing(request_ctx):
    user = make_user("keep@example.org")
    make_membership(user, make_hub())
    with pytest.raises(services.AccountError) as caught:
        services.delete_account(user, "not my password at all")
    assert caught.value.field == "password"
    assert find_user("keep@example.org") is user
    assert db.session.scalars(select(Membership)).all() != []


def test_wrong_passwords_are_throttled_before_hashing(request_ctx):
    user = make_user("guess@example.org")
    for _ in range(10):
        with pytest.raises(services.AccountError):
            services.check_password(user, "a wrong guess")
    with mock.patch("community.members.services.verify_password") as verify:
        with pytest.raises(Throttled):
            services.check_password(user, PASSWORD)
        verify.assert_not_called()


def test_r43_delete_account_removes_the_person_and_keeps_their_content(request_ctx):
    me = make_user("gone@example.org", display_name="Gone Member")
    someone = make_user("stays@example.org")
    hub = make_hub()
    make_membership(me, hub)
    make_coordinator(me, hub.chapter)
    event = make_event(hub, capacity=1)
    make_rsvp(event, me, created_at=utcnow() - timedelta(minutes=5))
    waiting = make_rsvp(event, someone, RsvpStatus.WAITLISTED)
    update = make_update(hub, author_id=me.id)
    comment = Comment(update=update, author_id=me.id, body="a kept comment")
    db.session.add(comment)
    db.session.add(UserSession(user=me, token_hash="b" * 64, last_seen_at=utcnow()))
    totp.new_recovery_codes(me)
    db.session.add_all([
        AuditEntry(actor_id=me.id, action="attendees.view", target_type="event",
                   target_id=event.public_id),
        AuditEntry(actor_id=me.id, action="member.remove", target_type="user",
                   target_id=someone.public_id),
        AuditEntry(actor_id=someone.id, subject_user_id=me.id, action="member.approve",
                   target_type="user", target_id=me.public_id),
    ])
    queue_email(db.session, to_address="gone@example.org", subject="s", body_text="b",
                user_id=me.id)
    queue_email(db.session, to_address="GONE@example.org", subject="s", body_text="b")
    queue_email(db.session, to_address="stays@example.org", subject="s", body_text="b",
                user_id=someone.id)
    me_id, me_public_id = me.id, me.public_id

    promoted = services.delete_account(me, PASSWORD)
    db.session.expire_all()

    assert promoted == [waiting]
    assert waiting.status is RsvpStatus.GOING
    assert db.session.scalar(select(User).where(User.id == me_id)) is None
    for model in (Membership, ChapterRole, UserSession, RecoveryCode, Rsvp):
        owner = model.user_id == me_id
        assert db.session.scalars(select(model).where(owner)).all() == []
    # Only mail to others is left: the earlier one, and the news of the freed seat.
    left = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
    assert [e.to_address for e in left] == ["stays@example.org", "stays@example.org"]
    assert "place opened up" in left[1].subject.lower()
    # Content stays as "deleted member".
    assert db.session.get(Update, update.id).author_id is None
    assert db.session.get(Comment, comment.id).author_id is None
    # Audit entries keep one random pseudonym, as actor and as target.
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    mine = [e for e in entries if e.action in ("attendees.view", "member.remove")]
    pseudonym = mine[0].actor_pseudonym
    assert pseudonym and all(e.actor_pseudonym == pseudonym and e.actor_id is None
                             for e in mine)
    about_me = next(e for e in entries if e.action == "member.approve")
    assert about_me.subject_user_id is None and about_me.target_id == pseudonym
    assert about_me.actor_id == someone.id
    assert entries[-1].action == "account.delete" and entries[-1].actor_id is None
    assert me_public_id not in {e.target_id for e in entries}


def test_each_deleted_account_gets_its_own_pseudonym(request_ctx):
    pseudonyms = []
    for n in range(2):
        user = make_user(f"pseudo{n}@example.org")
        db.session.add(AuditEntry(actor_id=user.id, action="x", target_type="event",
                                  target_id="t"))
        services.delete_account(user, PASSWORD)
        pseudonyms.append(db.session.scalars(
            select(AuditEntry.actor_pseudonym).where(AuditEntry.action == "x")
            .order_by(AuditEntry.id.desc())).first())
    assert len(set(pseudonyms)) == 2
    assert all(len(p) >= 16 for p in pseudonyms)

