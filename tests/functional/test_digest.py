"""The weekly digest (`flask --app wsgi send-digest`) and "latest from your hubs"
on the dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event

from community import notifications
from community.database import utcnow
from community.events.models import Audience, EventStatus
from community.extensions import db
from community.factories import make_event, make_hub, make_membership, make_update, make_user
from community.members.services import latest_from_my_hubs
from community.updates.models import UpdateAudience
from tests.conftest import link_in, login_as, outbox


@pytest.fixture(autouse=True)
def request_context(app):
    """Services translate their messages, so they run as inside a request."""
    with app.test_request_context():
        yield


@pytest.fixture
def digest_reader():
    hub = make_hub()
    reader = make_user(weekly_digest=True, locale="zh_Hant_HK")
    make_membership(reader, hub)
    return hub, reader


def test_digest_gathers_news_once_per_week(runner, digest_reader):
    hub, reader = digest_reader
    update = make_update(hub, title_en="Members' news", title_zh="會員消息",
                         audience=UpdateAudience.MEMBERS)
    event = make_event(hub, title_en="Harbour swim", title_zh="海港游泳",
                       audience=Audience.MEMBERS)
    make_event(hub, title_en="Secret party", title_zh="秘密派對", audience=Audience.INVITE)
    make_event(hub, title_en="Still a draft", title_zh="草稿", status=EventStatus.DRAFT)

    first = runner.invoke(args=["send-digest"])
    second = runner.invoke(args=["send-digest"])

    assert first.exit_code == 0, first.output
    assert "queued 1" in first.output
    assert "Writing digests" in first.output  # click's progress bar
    assert "queued 0" in second.output
    [email] = outbox(reader.email)
    iso_year, iso_week, _ = utcnow().isocalendar()
    assert email.dedupe_key == f"digest:{reader.public_id}:{iso_year}-W{iso_week}"
    assert "會員消息" in email.body_text and "海港游泳" in email.body_text
    assert "秘密派對" not in email.body_text and "草稿" not in email.body_text
    assert f"https://harbour.test/updates/{update.public_id}" in email.body_text
    assert f"https://harbour.test/events/{event.public_id}" in email.body_text
    path = link_in(email, "/unsubscribe/")
    assert f"List-Unsubscribe: <https://harbour.test{path}>" in email.extra_headers
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in email.extra_headers


def test_next_week_brings_only_what_is_new_and_nothing_when_nothing_is(digest_reader):
    hub, reader = digest_reader
    make_update(hub, title_en="Old news", title_zh="舊聞")
    assert notifications.send_digests() == 1

    next_week = utcnow() + timedelta(days=7)
    assert notifications.send_digests(now=next_week) == 0

    make_update(hub, title_en="Fresh news", title_zh="新聞")
    assert notifications.send_digests(now=next_week) == 1
    assert notifications.send_digests(now=next_week) == 0
    latest = outbox(reader.email)[-1]
    assert "新聞" in latest.body_text and "舊聞" not in latest.body_text


def test_people_without_the_digest_or_without_news_get_none(digest_reader):
    hub, reader = digest_reader
    quiet_hub = make_hub()
    quiet_reader = make_user(weekly_digest=True)
    make_membership(quiet_reader, quiet_hub)
    single_emails = make_user()
    make_membership(single_emails, hub)
    make_update(hub)

    assert notifications.send_digests() == 1
    assert {email.to_address for email in outbox()} == {reader.email}


def test_digest_readers_get_no_single_emails(digest_reader):
    hub, reader = digest_reader
    update = make_update(hub)

    assert notifications.notify_update_published(update) == 0
    assert outbox() == []


def test_unsubscribing_from_the_digest_stops_it(client, digest_reader):
    hub, reader = digest_reader
    make_update(hub)
    notifications.send_digests()
    path = link_in(outbox(reader.email)[0], "/unsubscribe/")

    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    db.session.expire_all()
    assert reader.weekly_digest is False
    make_update(hub)
    assert notifications.send_digests(now=utcnow() + timedelta(days=7)) == 0


def test_r44_digest_carries_no_place_or_outside_link(digest_reader):
    hub, reader = digest_reader
    make_event(hub, address="MARKER-ADDRESS", online_url="https://meet.example.net/MARKER")
    notifications.send_digests()

    [email] = outbox(reader.email)
    for part in (email.body_text, email.body_html):
        assert "MARKER" not in part
        assert "meet.example.net" not in part


# --- dashboard: latest from your hubs ----------------------------------------------

def test_dashboard_mixes_updates_and_new_events_newest_first(client, digest_reader):
    hub, reader = digest_reader
    now = utcnow()
    make_update(hub, title_en="Oldest update", published_at=now - timedelta(days=3))
    make_event(hub, title_en="Middle event", published_at=now - timedelta(days=2))
    make_update(hub, title_en="Newest update", published_at=now - timedelta(hours=1))
    make_event(hub, title_en="Invite only", audience=Audience.INVITE)
    make_update(make_hub(), title_en="Not my hub")
    reader.locale = "en"

    page = login_as(client, reader).get("/dashboard").get_data(as_text=True)

    newest, middle, oldest = (page.index(t) for t in
                              ("Newest update", "Middle event", "Oldest update"))
    assert newest < middle < oldest
    assert "Invite only" not in page and "Not my hub" not in page


def test_latest_from_my_hubs_takes_two_queries_whatever_the_number_of_hubs():
    reader = make_user()
    for _ in range(5):
        hub = make_hub()
        make_membership(reader, hub)
        make_update(hub)
        make_event(hub)
    db.session.flush()
    statements = []

    def count(*_args):
        statements.append(1)

    connection = db.session.connection()
    sa_event.listen(connection, "before_cursor_execute", count)
    try:
        news = latest_from_my_hubs(reader)
        for entry in news:
            _ = entry.owner.name_en, entry.item.title_en
    finally:
        sa_event.remove(connection, "before_cursor_execute", count)

    assert len(news) == 10
    assert {entry.kind for entry in news} == {"update", "event"}
    assert len(statements) == 2
