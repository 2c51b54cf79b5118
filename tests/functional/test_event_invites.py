"""Invite-only events (issue 5 item 1): organisers make and revoke an event's
invite links (hash only, shown once, audited); a verified person who accepts
one is answered into the event and may then see it; dead links all look alike;
invite-only events never show in lists, hub pages or feeds."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from community.audit_models import AuditEntry
from community.database import utcnow
from community.events.models import Audience, Rsvp, RsvpStatus
from community.extensions import db
from community.factories import make_event, make_hub, make_membership, make_rsvp, make_user
from community.hubs.models import Invite, MemberRole
from community.hubs.settings import services as services
from tests.conftest import csrf_token, login_as
from tests.functional.test_event_management import post_new

SECRET_TITLE = "MARKER-INVITE-ONLY gathering"


@pytest.fixture
def world():
    hub = make_hub(slug="invite-events-hub")
    organiser = make_user("organiser@evinv.example", totp_secret=pyotp.random_base32())
    make_membership(organiser, hub, MemberRole.ORGANISER)
    member = make_user("member@evinv.example")
    make_membership(member, hub)
    event = make_event(hub, audience=Audience.INVITE, title_en=SECRET_TITLE, capacity=1)
    return {"hub": hub, "organiser": organiser, "member": member, "event": event}


def client_for(app, user=None):
    client = app.test_client()
    return login_as(client, user) if user is not None else client


def make_link(app, world, **data) -> tuple[str, object]:
    """Make a link through the organiser's page; returns the token and the client."""
    client = client_for(app, world["organiser"])
    url = f"/events/{world['event'].public_id}/invites"
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(url, data={"csrf_token": csrf_token(page),
                                      "expires_in_days": "7", **data})
    assert response.status_code == 200
    match = re.search(r"/events/invite/([A-Za-z0-9_-]+)", response.get_data(as_text=True))
    assert match
    return match.group(1), client


def accept(client, token: str):
    page = client.get(f"/events/invite/{token}")
    if page.status_code != 200:
        return page
    return client.post(f"/events/invite/{token}", data={"csrf_token": csrf_token(page)})


def rsvp_of(user, event):
    return db.session.scalar(select(Rsvp).where(Rsvp.user_id == user.id,
                                                Rsvp.event_id == event.id))


def test_organisers_make_a_link_stored_as_a_hash_and_audited(app, world):
    token, client = make_link(app, world, max_uses="3")
    invite = db.session.scalar(select(Invite).where(Invite.event_id == world["event"].id))
    assert invite.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert invite.hub_id is None and invite.max_uses == 3
    assert token not in str(db.session.scalars(select(Invite.token_hash)).all())
    audit = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "invite.create", AuditEntry.target_id == invite.public_id)).one()
    assert world["event"].public_id in audit.detail
    # The list shows the link's limits, never the link itself.
    listing = client.get(f"/events/{world['event'].public_id}/invites").get_data(as_text=True)
    assert token not in listing and "0 of 3" in listing
    # An event link is not a hub link: it does not open the hub.
    assert client_for(app, make_user()).get(f"/invite/{token}").status_code == 404
    assert services.active_invites(world["hub"]) == []


def test_the_organiser_sees_the_link_to_invite_links(app, world):
    client = client_for(app, world["organiser"])
    page = client.get(f"/events/{world['event'].public_id}").get_data(as_text=True)
    assert f"/events/{world['event'].public_id}/invites" in page
    member_page = client_for(app, world["member"]).get(f"/events/{world['event'].public_id}")
    assert member_page.status_code == 404


@pytest.mark.parametrize("who", ["visitor", "member", "stranger"])
def test_only_organisers_reach_the_invites_page(app, world, who):
    user = {"visitor": None, "member": world["member"], "stranger": make_user()}[who]
    client = client_for(app, user)
    url = f"/events/{world['event'].public_id}/invites"
    response = client.get(url)
    assert response.status_code in ((302,) if user is None else (404,))
    page = client.get("/" if user is not None else "/sign-in")
    assert client.post(url, data={"csrf_token": csrf_token(page), "expires_in_days": "7"}
                       ).status_code in (302, 404)
    assert db.session.scalar(select(Invite).where(Invite.event_id == world["event"].id)) is None


def test_bad_input_on_the_form_is_explained(app, world):
    client = client_for(app, world["organiser"])
    url = f"/events/{world['event'].public_id}/invites"
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page),
                                      "expires_in_days": "0", "max_uses": "-1"})
    assert response.status_code == 200
    assert db.session.scalar(select(Invite).where(Invite.event_id == world["event"].id)) is None


def test_accepting_a_link_answers_the_event_and_then_it_is_visible(app, world):
    token, _client = make_link(app, world)
    guest = make_user("guest@evinv.example")
    client = client_for(app, guest)
    assert client.get(f"/events/{world['event'].public_id}").status_code == 404
    assert SECRET_TITLE in client.get(f"/events/invite/{token}").get_data(as_text=True)
    response = accept(client, token)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/events/{world['event'].public_id}")
    assert rsvp_of(guest, world["event"]).status is RsvpStatus.GOING
    assert client.get(f"/events/{world['event'].public_id}").status_code == 200
    # Capacity 1: the next person is waitlisted, through the usual rules.
    second = make_user("second@evinv.example")
    accept(client_for(app, second), token)
    assert rsvp_of(second, world["event"]).status is RsvpStatus.WAITLISTED
    # Accepting again changes nothing and uses nothing.
    used = db.session.scalar(select(Invite.use_count).where(Invite.event_id ==
                                                             world["event"].id))
    assert accept(client, token).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(Invite.use_count).where(
        Invite.event_id == world["event"].id)) == used


def test_signed_out_people_are_sent_to_sign_in(app, world):
    token, _client = make_link(app, world)
    response = client_for(app).get(f"/events/invite/{token}")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_unverified_people_cannot_accept(app, world):
    token, _client = make_link(app, world)
    person = make_user("unverified@evinv.example", verified=False)
    client = client_for(app, person)
    assert client.get(f"/events/invite/{token}").status_code == 302
    assert rsvp_of(person, world["event"]) is None


@pytest.mark.parametrize("death", ["expired", "revoked", "used up", "unknown", "too long"])
def test_dead_links_all_give_the_same_404(app, world, death):
    token, organiser_client = make_link(app, world, max_uses="1")
    invite = db.session.scalar(select(Invite).where(Invite.event_id == world["event"].id))
    if death == "expired":
        db.session.execute(update(Invite).where(Invite.id == invite.id)
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
    elif death == "revoked":
        url = f"/events/{world['event'].public_id}/invites"
        page = organiser_client.get(url)
        revoked = organiser_client.post(f"{url}/{invite.public_id}/revoke",
                                        data={"csrf_token": csrf_token(page)})
        assert revoked.status_code == 302, revoked.get_data(as_text=True)
        assert db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "invite.revoke", AuditEntry.target_id == invite.public_id))
    elif death == "used up":
        accept(client_for(app, make_user()), token)
    elif death == "unknown":
        token = "x" * 22
    else:
        token = "x" * 65
    person = make_user()
    client = client_for(app, person)
    reference = client.get("/events/invite/" + "y" * 22)
    response = client.get(f"/events/invite/{token}")
    assert response.status_code == reference.status_code == 404
    # The same page but for the address itself and the per-response CSRF token.
    def page_of(body: str, path_token: str) -> str:
        body = re.sub(r'name="csrf_token"[^>]*? value="[^"]*"', "", body.replace(path_token, "T"))
        return body
    assert page_of(response.get_data(as_text=True), token) == page_of(
        reference.get_data(as_text=True), "y" * 22)
    assert "This invite link does not work" in response.get_data(as_text=True)
    page = client.get("/")
    posted = client.post(f"/events/invite/{token}", data={"csrf_token": csrf_token(page)})
    assert posted.status_code == 404
    assert rsvp_of(person, world["event"]) is None


def test_links_of_a_cancelled_event_or_another_hub_do_not_work(app, world):
    from community.events.models import EventStatus

    token, _client = make_link(app, world)
    world["event"].status = EventStatus.CANCELLED
    db.session.flush()
    assert client_for(app, make_user()).get(f"/events/invite/{token}").status_code == 404
    # Another hub's organiser cannot revoke this event's links.
    invite = db.session.scalar(select(Invite).where(Invite.event_id == world["event"].id))
    with app.test_request_context(), pytest.raises(services.NotAllowed):
        services.revoke_invite(make_hub(), invite, world["organiser"], world["event"])
    assert services.invite_of_hub(make_hub(), invite.public_id, world["event"]) is None


def test_invite_only_events_stay_out_of_lists_hub_pages_and_feeds(app, world):
    make_rsvp(world["event"], make_user())
    invited = make_user()
    make_rsvp(world["event"], invited, status=RsvpStatus.WAITLISTED)
    pages = ["/", "/events", f"/events?hub={world['hub'].slug}", f"/hubs/{world['hub'].slug}",
             "/events.atom", f"/hubs/{world['hub'].slug}/events.atom",
             f"/hubs/{world['hub'].slug}/events.ics"]
    for user in (None, world["member"], invited):
        client = client_for(app, user)
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, url
            assert SECRET_TITLE not in response.get_data(as_text=True), (url, user)


# --- bad input: a new event may not start in the past (issue 5 "Bad input") -----

def test_a_new_event_cannot_start_in_the_past_but_a_past_event_can_be_edited(app, world):
    from community.events.models import Event

    client = client_for(app, world["organiser"])
    yesterday = (utcnow() - timedelta(days=1)).strftime("%Y-%m-%d")
    response = post_new(client, world["hub"], title_en="Looking back",
                        start_date=yesterday, end_date=yesterday)
    assert response.status_code == 400  # the form again, refused
    assert "That start time has passed." in response.get_data(as_text=True)
    assert db.session.scalar(select(Event).where(Event.title_en == "Looking back")) is None
    past = make_event(world["hub"], starts_at=utcnow() - timedelta(days=3))
    edit = f"/events/{past.public_id}/edit"
    page = client.get(edit)
    assert page.status_code == 200
    assert "That start time has passed." not in page.get_data(as_text=True)
