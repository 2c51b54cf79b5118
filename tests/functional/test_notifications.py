"""Emails when an update or an event is published: one per member per
publication, in their language, only to those who asked, carrying the minimum
(R44) and a one-click unsubscribe link that works without signing in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from community import notifications
from community.auth.models import User
from community.database import utcnow
from community.events.manage.services import publish_event
from community.events.models import Audience, EventMode, EventStatus, Tier
from community.extensions import db
from community.factories import (
    make_chapter,
    make_event,
    make_hub,
    make_membership,
    make_rsvp,
    make_update,
    make_user,
)
from community.hubs.models import HubStatus, MemberRole, MembershipStatus
from community.updates.models import UpdateAudience, UpdateStatus
from community.updates.services import UpdateContent, UpdateError, create_update, publish_update
from tests.conftest import link_in, outbox, run_fan_outs

ADDRESS_MARKER = "MARKER-ADDRESS-17 Secret Lane"
ONLINE_MARKER = "https://meet.example.net/MARKER-ONLINE"
ATTENDEE_MARKER = "MARKER-ATTENDEE-NAME"
VENUE_MARKER = "MARKER-VENUE"


@pytest.fixture(autouse=True)
def request_context(app):
    """Services translate their messages, so they run as inside a request."""
    with app.test_request_context():
        yield


@pytest.fixture
def hub_people():
    """A hub with its organiser and members who want each kind of email or not."""
    hub = make_hub(name_en="Riverside Readers", name_zh="河畔讀書會")
    people = {
        "organiser": make_user(),
        "english": make_user(locale="en"),
        "chinese": make_user(locale="zh_Hant_HK"),
        "no_updates": make_user(notify_updates=False),
        "no_events": make_user(notify_events=False),
        "digest": make_user(weekly_digest=True),
        "pending": make_user(),
        "removed": make_user(),
        "disabled": make_user(),
        "outsider": make_user(),
    }
    people["disabled"].disabled_at = utcnow()
    make_membership(people["organiser"], hub, role=MemberRole.ORGANISER)
    for key in ("english", "chinese", "no_updates", "no_events", "digest", "disabled"):
        make_membership(people[key], hub)
    make_membership(people["pending"], hub, status=MembershipStatus.PENDING)
    make_membership(people["removed"], hub, status=MembershipStatus.REMOVED)
    make_membership(people["outsider"], make_hub())
    db.session.flush()
    return hub, people


def draft_update(hub, author, **kw):
    return make_update(hub, author_id=author.id, status=UpdateStatus.DRAFT,
                       title_en=kw.pop("title_en", "Spring reading list"),
                       title_zh=kw.pop("title_zh", "春季書單"), **kw)


def recipients() -> set[str]:
    return {email.to_address for email in outbox()}


def addresses(people, *keys) -> set[str]:
    return {people[key].email for key in keys}


# --- updates -----------------------------------------------------------------------

def test_publishing_an_update_emails_each_opted_in_member_once(hub_people):
    hub, people = hub_people
    update = draft_update(hub, people["organiser"])

    publish_update(people["organiser"], update)
    run_fan_outs()
    with pytest.raises(UpdateError):
        publish_update(people["organiser"], update)
    # Called again however it happens, the dedupe key keeps it to one email each.
    assert notifications.notify_update_published(update) == 0

    assert recipients() == addresses(people, "english", "chinese", "no_events")
    assert len(outbox()) == 3
    keys = {email.dedupe_key for email in outbox()}
    assert f"publish:update:{update.public_id}:{people['english'].public_id}" in keys


def test_an_update_published_at_once_notifies_too(hub_people):
    hub, people = hub_people
    content = UpdateContent(title_en="Picnic", title_zh="野餐", body_en="Bring food.",
                            body_zh="", audience=UpdateAudience.MEMBERS, pinned=False,
                            allow_comments=False)
    update = create_update(people["organiser"], content, hub=hub, publish=True)
    run_fan_outs()

    assert recipients() == addresses(people, "english", "chinese", "no_events")
    assert notifications.notify_update_published(update) == 0


def test_a_draft_update_emails_nobody(hub_people):
    hub, people = hub_people
    update = draft_update(hub, people["organiser"])

    assert notifications.notify_update_published(update) == 0
    assert outbox() == []


def test_each_member_reads_the_email_in_their_own_language(hub_people):
    hub, people = hub_people
    publish_update(people["organiser"], draft_update(hub, people["organiser"]))
    run_fan_outs()

    [english] = outbox(people["english"].email)
    [chinese] = outbox(people["chinese"].email)
    assert "Spring reading list" in english.subject
    assert "Riverside Readers" in english.body_text
    assert "春季書單" not in english.body_text
    assert "春季書單" in chinese.subject
    assert "河畔讀書會" in chinese.body_text
    assert "Spring reading list" not in chinese.body_text
    assert '<html lang="zh-Hant-HK">' in chinese.body_html
    assert '<html lang="en">' in english.body_html


def test_chapter_update_reaches_members_of_its_active_hubs_once(client):
    chapter = make_chapter()
    first, second = make_hub(chapter), make_hub(chapter)
    archived = make_hub(chapter, status=HubStatus.ARCHIVED)
    elsewhere = make_hub()
    both, one, stale, other = make_user(), make_user(), make_user(), make_user()
    make_membership(both, first)
    make_membership(both, second)
    make_membership(one, second)
    make_membership(stale, archived)
    make_membership(other, elsewhere)
    author = make_user()
    update = make_update(chapter=chapter, author_id=author.id, status=UpdateStatus.DRAFT)
    update.status = UpdateStatus.PUBLISHED
    update.published_at = utcnow()

    assert notifications.notify_update_published(update) == 2
    assert recipients() == {both.email, one.email}


# --- events -----------------------------------------------------------------------

def draft_event(hub, organiser, **kw):
    return make_event(
        hub, status=EventStatus.DRAFT, created_by_id=organiser.id,
        title_en="Night walk", title_zh="夜行",
        starts_at=utcnow().replace(microsecond=0) + timedelta(days=10),
        timezone="Asia/Hong_Kong", mode=EventMode.HYBRID, venue=VENUE_MARKER,
        address=ADDRESS_MARKER, location_visibility=Tier.ATTENDEES,
        online_url=ONLINE_MARKER, online_visibility=Tier.ATTENDEES, **kw)


def test_publishing_an_event_emails_each_opted_in_member_once(hub_people):
    hub, people = hub_people
    event = draft_event(hub, people["organiser"])

    publish_event(event, people["organiser"])
    run_fan_outs()
    assert notifications.notify_event_published(event) == 0

    assert recipients() == addresses(people, "english", "chinese", "no_updates")
    assert len(outbox()) == 3
    [english] = outbox(people["english"].email)
    assert english.dedupe_key == f"publish:event:{event.public_id}:{people['english'].public_id}"
    assert "Night walk" in english.subject
    assert f"https://harbour.test/events/{event.public_id}" in english.body_text
    # The time in the event's own zone.
    assert "HKT" in english.body_text


def test_an_invite_only_event_is_never_announced(hub_people):
    hub, people = hub_people
    event = draft_event(hub, people["organiser"], audience=Audience.INVITE)

    publish_event(event, people["organiser"])
    run_fan_outs()

    assert outbox() == []


def test_r44_event_emails_carry_no_place_link_or_attendee(hub_people):
    hub, people = hub_people
    event = draft_event(hub, people["organiser"])
    make_rsvp(event, make_user(display_name=ATTENDEE_MARKER))

    publish_event(event, people["organiser"])
    run_fan_outs()

    emails = outbox()
    assert emails
    for email in emails:
        whole = "\n".join([email.subject, email.body_text, email.body_html,
                           email.extra_headers])
        for marker in (ADDRESS_MARKER, ONLINE_MARKER, ATTENDEE_MARKER, VENUE_MARKER,
                       people["organiser"].email):
            assert marker not in whole
        for url in re.findall(r"https?://[^\s<>\"]+", whole):
            assert url.startswith("https://harbour.test/"), url
        # R39: no per-recipient tracking parameters on the links.
        assert "?" not in email.body_text
        assert "<img" not in email.body_html


# --- unsubscribe ------------------------------------------------------------------

def test_every_notification_carries_a_one_click_unsubscribe(hub_people):
    hub, people = hub_people
    publish_update(people["organiser"], draft_update(hub, people["organiser"]))
    run_fan_outs()

    for email in outbox():
        path = link_in(email, "/unsubscribe/")
        assert f"List-Unsubscribe: <https://harbour.test{path}>" in email.extra_headers
        assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in email.extra_headers
        assert f'href="https://harbour.test{path}"' in email.body_html


def reload(user: User) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.id == user.id))


def test_unsubscribe_end_to_end_without_signing_in(client, hub_people):
    hub, people = hub_people
    publish_update(people["organiser"], draft_update(hub, people["organiser"]))
    run_fan_outs()
    [email] = outbox(people["english"].email)
    path = link_in(email, "/unsubscribe/")

    page = client.get(path)
    assert page.status_code == 200
    assert 'method="post"' in page.get_data(as_text=True)
    assert reload(people["english"]).notify_updates is True  # GET changes nothing (R26)

    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "unsubscribed" in done.get_data(as_text=True)
    user = reload(people["english"])
    assert user.notify_updates is False
    assert user.notify_events is True

    # Again: still fine, still off.
    assert client.post(path).status_code == 200

    publish_update(people["organiser"], draft_update(hub, people["organiser"]))
    run_fan_outs()
    assert len(outbox(people["english"].email)) == 1


def test_the_unsubscribe_page_speaks_the_recipients_language(client, hub_people):
    hub, people = hub_people
    token = notifications.unsubscribe_token(people["chinese"], "events")

    page = client.get(f"/unsubscribe/{token}")

    assert '<html lang="zh-Hant-HK"' in page.get_data(as_text=True)


@pytest.mark.parametrize("kind, setting", [("events", "notify_events"),
                                           ("updates", "notify_updates"),
                                           ("digest", "weekly_digest")])
def test_each_kind_turns_off_only_its_own_setting(client, kind, setting):
    user = make_user(weekly_digest=True)
    token = notifications.unsubscribe_token(user, kind)

    assert client.post(f"/unsubscribe/{token}").status_code == 200

    user = reload(user)
    for other in notifications.KIND_SETTINGS.values():
        assert getattr(user, other) is (other != setting)


def forged_tokens(user):
    good = notifications.unsubscribe_token(user, "updates")
    other_salt = notifications.URLSafeSerializer(
        "test-secret-key-that-is-long-enough-for-harbour", salt="harbour:other")
    other_key = notifications.URLSafeSerializer("x" * 40, salt=notifications.UNSUBSCRIBE_SALT)
    return [
        "garbage",
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        other_salt.dumps({"u": user.public_id, "k": "updates"}),
        other_key.dumps({"u": user.public_id, "k": "updates"}),
        notifications._serializer().dumps({"u": user.public_id, "k": "everything"}),
        notifications._serializer().dumps(["not", "a", "dict"]),
        notifications._serializer().dumps({"u": 12, "k": "updates"}),
        "x" * 500,
    ]


def test_forged_tokens_get_one_clear_page_and_change_nothing(client):
    user = make_user()
    for token in forged_tokens(user):
        page = client.get(f"/unsubscribe/{token}")
        assert page.status_code == 400, token
        assert "This unsubscribe link does not work" in page.get_data(as_text=True)
        # A token that does not verify is not a pass: the CSRF check applies again.
        assert client.post(f"/unsubscribe/{token}").status_code == 400
    assert reload(user).notify_updates is True


def test_a_token_for_a_deleted_account_gets_the_clear_page(client):
    user = make_user()
    token = notifications.unsubscribe_token(user, "events")
    db.session.delete(user)
    db.session.flush()

    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 400
    assert "This unsubscribe link does not work" in page.get_data(as_text=True)
    posted = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert posted.status_code == 400
    assert "This unsubscribe link does not work" in posted.get_data(as_text=True)


def test_an_unknown_kind_cannot_be_signed():
    with pytest.raises(ValueError):
        notifications.unsubscribe_token(make_user(), "everything")
