"""Travel mode (issue 16 item 6; DESIGN §2 rule 11): one switch that makes a
member's own screens look like a new account's, signs out every other device,
stops the personal calendar and all email; turning it off needs the password
and the second factor, and brings everything back. Organisers see only
"paused" where their message could not go."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from community import feeds
from community.database import utcnow
from community.events.models import Audience
from community.extensions import db
from community.factories import (
    make_chapter,
    make_event,
    make_hub,
    make_membership,
    make_rsvp,
    make_user,
)
from community.hubs.models import Hub, HubVisibility, MemberRole, Membership, MembershipStatus
from community.mail import queue_templated_email
from community.outbox_models import OutboxEmail, OutboxStatus
from community.updates.models import UpdateAudience
from community.updates.services import UpdateContent, create_update
from tests.conftest import csrf_token, link_in, login_as, outbox, run_fan_outs

PASSWORD = "correct horse battery staple"
SECRET = pyotp.random_base32()
SECRETS = ("Quiet Harbour Hub", "Unlisted Safe Hub", "Lantern vigil", "Members tea")


@pytest.fixture
def world():
    chapter = make_chapter("tv")
    listed = make_hub(chapter, "quiet-harbour", name_en="Quiet Harbour Hub")
    unlisted = make_hub(chapter, "unlisted-safe", name_en="Unlisted Safe Hub",
                        visibility=HubVisibility.UNLISTED)
    traveller = make_user("traveller@travel.example", display_name="Traveller",
                          totp_secret=SECRET)
    organiser = make_user("organiser@travel.example", display_name="Organiser",
                          totp_secret=pyotp.random_base32())
    stayer = make_user("stayer@travel.example", display_name="Stayer")
    for hub in (listed, unlisted):
        make_membership(traveller, hub)
        make_membership(stayer, hub)
    make_membership(organiser, listed, MemberRole.ORGANISER)
    public = make_event(listed, title_en="Lantern vigil")
    members_only = make_event(unlisted, title_en="Members tea", audience=Audience.MEMBERS)
    for event in (public, members_only):
        make_rsvp(event, traveller)
    make_rsvp(public, stayer)
    token = feeds.issue_calendar_token(traveller)
    db.session.flush()
    return {"listed": listed, "unlisted": unlisted, "traveller": traveller,
            "organiser": organiser, "stayer": stayer, "public": public,
            "members_only": members_only, "token": token}


def signed_in(app, user):
    return login_as(app.test_client(), user)


def turn_on(client):
    page = client.get("/account/travel")
    response = client.post("/account/travel/on", data={"csrf_token": csrf_token(page)})
    db.session.expire_all()
    return response


def turn_off(client, **data):
    page = client.get("/account/travel")
    response = client.post("/account/travel/off",
                           data={"csrf_token": csrf_token(page), **data})
    db.session.expire_all()
    return response


def masked(html: str, name: str) -> str:
    html = re.sub(r'(value|nonce|content)="[^"]*"', "", html)
    return html.replace(name, "NAME")


def test_on_the_members_own_screens_look_like_a_new_account(app, world):
    traveller = world["traveller"]
    client, other_device = signed_in(app, traveller), signed_in(app, traveller)
    before = client.get("/dashboard").get_data(as_text=True)
    assert all(secret in before for secret in ("Quiet Harbour Hub", "Lantern vigil"))

    response = turn_on(client)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    assert traveller.travel_mode_since is not None
    # Every other device is signed out.
    assert other_device.get("/dashboard").headers["Location"].startswith("/sign-in")

    assert "Travel mode is on." in client.get("/dashboard").get_data(as_text=True)
    dashboard = client.get("/dashboard").get_data(as_text=True)
    newcomer = make_user("newcomer@travel.example", display_name="Newcomer")
    fresh = signed_in(app, newcomer).get("/dashboard").get_data(as_text=True)
    assert masked(dashboard, "Traveller") == masked(fresh, "Newcomer")
    assert "travel mode" not in dashboard.lower()

    public, members_only = world["public"], world["members_only"]
    assert client.get("/hubs/unlisted-safe").status_code == 404
    assert client.get("/hubs/quiet-harbour/members").status_code == 404
    assert client.get(f"/events/{members_only.public_id}").status_code == 404
    event_page = client.get(f"/events/{public.public_id}").get_data(as_text=True)
    assert "Your ticket" not in event_page and "Withdraw my answer" not in event_page
    assert client.get(f"/events/{public.public_id}/ticket").status_code == 404
    hub_page = client.get("/hubs/quiet-harbour").get_data(as_text=True)
    assert "Leave" not in hub_page
    access = client.get("/account/rsvp-access").get_data(as_text=True)
    assert not any(secret in access for secret in SECRETS)

    # The calendar: no link on the page, and the secret address stops serving.
    calendar_page = client.get("/account/calendar").get_data(as_text=True)
    fresh_calendar = signed_in(app, newcomer).get("/account/calendar").get_data(as_text=True)
    assert masked(calendar_page, "x") == masked(fresh_calendar, "x")
    assert app.test_client().get(f"/calendar/{world['token']}.ics").status_code == 404

    # A data download holds no hub either.
    page = client.get("/account/export")
    data = json.loads(client.post("/account/export",
                                  data={"csrf_token": csrf_token(page)}).get_data(as_text=True))
    assert data["memberships"] == [] and data["rsvps"] == []
    assert not any(secret in json.dumps(data) for secret in SECRETS)


def test_organisers_still_see_the_traveller_and_only_paused_emails(app, world):
    traveller = world["traveller"]
    db.session.add(OutboxEmail(user_id=traveller.id, to_address=traveller.email,
                               subject="Written before", body_text="x"))
    db.session.flush()
    turn_on(signed_in(app, traveller))
    waiting = db.session.scalars(select(OutboxEmail).where(
        OutboxEmail.user_id == traveller.id)).all()
    assert [(e.status, e.last_error) for e in waiting] == [
        (OutboxStatus.FAILED, "paused: travel mode")]

    # A publication reaches the others, not the traveller.
    content = UpdateContent(title_en="Picnic", title_zh="", body_en="Bring food.", body_zh="",
                            audience=UpdateAudience.MEMBERS, pinned=False,
                            allow_comments=False)
    with app.test_request_context("/"):
        create_update(world["organiser"], content, hub=world["listed"], publish=True)
    run_fan_outs()
    assert outbox(world["stayer"].email) and not outbox(traveller.email)[1:]
    # Every other email is held back too, whoever writes it.
    with app.test_request_context("/"):
        assert queue_templated_email(to_address=traveller.email, locale="en",
                                     template="test_message", user_id=traveller.id,
                                     day=utcnow(), note="x") is None

    organiser = signed_in(app, world["organiser"])
    event = world["public"]
    attendees = organiser.get(f"/events/{event.public_id}/attendees").get_data(as_text=True)
    assert "Traveller" in attendees and "travel" not in attendees.replace("Traveller", "")
    url = f"/events/{event.public_id}/attendees/message"
    response = organiser.post(url, data={"csrf_token": csrf_token(organiser.get(url)),
                                         "group": "going", "subject": "Hello",
                                         "body": "See you there."}, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "on its way to 1 person" in text and "Email to 1 person is paused." in text
    assert "Traveller" not in text.split("Email to 1 person is paused.")[0][-300:]
    assert [e.subject for e in outbox(traveller.email)] == ["Written before"]


def test_turning_off_needs_the_password_and_the_code_and_restores_everything(app, world):
    traveller = world["traveller"]
    client = signed_in(app, traveller)
    turn_on(client)

    assert turn_off(client, password="wrong password here", code="").status_code == 400
    response = turn_off(client, password=PASSWORD, code="000000")
    assert response.status_code == 400 and "That code did not work." in response.get_data(
        as_text=True)
    assert traveller.travel_mode_since is not None

    response = turn_off(client, password=PASSWORD, code=pyotp.TOTP(SECRET).now())
    assert response.status_code == 302
    assert traveller.travel_mode_since is None
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert all(secret in dashboard for secret in ("Quiet Harbour Hub", "Unlisted Safe Hub",
                                                   "Lantern vigil", "Members tea"))
    assert client.get("/hubs/unlisted-safe").status_code == 200
    assert app.test_client().get(f"/calendar/{world['token']}.ics").status_code == 200
    with app.test_request_context("/"):
        assert queue_templated_email(to_address=traveller.email, locale="en",
                                     template="test_message", user_id=traveller.id,
                                     day=utcnow(), note="x") is not None


def test_without_two_factor_the_password_alone_turns_it_off(app, world):
    stayer = world["stayer"]
    client = signed_in(app, stayer)
    turn_on(client)
    assert turn_off(client, password=PASSWORD).status_code == 302
    assert stayer.travel_mode_since is None


# --- the routes, for every kind of person -----------------------------------------

def test_every_travel_route_for_visitors_and_members(app, world):
    routes = [("GET", "/travel"), ("GET", "/account/travel"), ("POST", "/account/travel/on"),
              ("POST", "/account/travel/off")]
    visitor = app.test_client()
    token = csrf_token(visitor.get("/"))
    for method, url in routes:
        response = (visitor.get(url) if method == "GET"
                    else visitor.post(url, data={"csrf_token": token}))
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/sign-in"), url
    # Signed in, anyone: the short address leads to the page; off while off does nothing.
    for user in (world["stayer"], world["organiser"]):
        client = signed_in(app, user)
        assert client.get("/travel").headers["Location"] == "/account/travel"
        assert client.get("/account/travel").status_code == 200
        assert turn_off(client, password=PASSWORD).status_code == 302
        assert user.travel_mode_since is None
        assert turn_on(client).status_code == 302
        assert user.travel_mode_since is not None
        # A missing CSRF token is refused.
        assert client.post("/account/travel/on").status_code == 400


def test_travellers_are_no_organisers_on_their_own_screens(app, world):
    organiser = world["organiser"]
    client = signed_in(app, organiser)
    event = world["public"]
    assert client.get(f"/events/{event.public_id}/attendees").status_code == 200
    turn_on(client)
    for url in (f"/events/{event.public_id}/attendees", "/hubs/quiet-harbour/organise/members",
                f"/events/{event.public_id}/checkin"):
        assert client.get(url).status_code == 404, url
    assert utcnow() - organiser.travel_mode_since < timedelta(minutes=1)


# --- joining cannot show which hubs a traveller belongs to ---------------------------

def flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-(\w+)">([^<]*)</p>', html)


def test_join_answers_a_traveller_as_it_answers_someone_who_never_joined(app, world):
    from community.hubs.models import JoinPolicy
    from community.hubs.settings.services import create_invite

    chapter = world["listed"].chapter
    hubs = {
        "open-member": (JoinPolicy.OPEN, MembershipStatus.ACTIVE, MemberRole.MEMBER),
        "approval-organiser": (JoinPolicy.APPROVAL, MembershipStatus.ACTIVE,
                               MemberRole.ORGANISER),
        "approval-pending": (JoinPolicy.APPROVAL, MembershipStatus.PENDING, MemberRole.MEMBER),
        "open-removed": (JoinPolicy.OPEN, MembershipStatus.REMOVED, MemberRole.MEMBER),
        "invite-lead": (JoinPolicy.INVITE, MembershipStatus.ACTIVE, MemberRole.LEAD),
    }
    traveller = world["traveller"]
    lead = make_user("lead@travel.example", display_name="Lead")
    for slug, (policy, status, role) in hubs.items():
        hub = make_hub(chapter, slug, name_en=f"Hub {slug}", join_policy=policy)
        make_membership(traveller, hub, role, status)
        make_membership(lead, hub, MemberRole.LEAD)
    db.session.flush()
    client = signed_in(app, traveller)
    turn_on(client)
    client.get("/dashboard")  # shows "Travel mode is on." once
    newcomer = signed_in(app, make_user("fresh@travel.example", display_name="Newcomer"))

    def kept():
        db.session.expire_all()
        return sorted((m.hub.slug, m.status.value, m.role.value)
                      for m in db.session.scalars(select(Membership).where(
                          Membership.user_id == traveller.id)))

    before = kept()
    for slug in hubs:
        url = f"/hubs/{slug}"
        page, fresh = client.get(url), newcomer.get(url)
        assert page.status_code == fresh.status_code == 200, slug
        text = page.get_data(as_text=True)
        assert masked(text, "Traveller") == masked(fresh.get_data(as_text=True), "Newcomer")
        assert "You are a member" not in text and "waiting for the organisers" not in text
        answers = []
        for who in (client, newcomer):
            response = who.post(f"{url}/join", data={"csrf_token": csrf_token(who.get(url)),
                                                     "answer": "Hello"})
            assert response.status_code == 302 and response.headers["Location"] == url, slug
            answers.append(flashes(who.get(url).get_data(as_text=True)))
        assert answers[0] == answers[1] and answers[0], (slug, answers)
        assert "already" not in str(answers[0]) and "removed" not in str(answers[0])
        # Leaving, even by a forged form, answers as to someone who is not a member.
        response = client.post(f"{url}/leave", data={"csrf_token": csrf_token(client.get(url)),
                                                     "confirm": "y"}, follow_redirects=True)
        assert flashes(response.get_data(as_text=True)) == [
            ("error", "You are not a member of this hub.")], slug
    assert kept() == before

    # An invite link: the newcomer's welcome, and nothing is used up or changed.
    with app.test_request_context("/"):
        invites = {slug: create_invite(db.session.scalar(select(Hub).where(Hub.slug == slug)),
                                       lead, expires_in_days=7, max_uses=1)
                   for slug in ("approval-pending", "invite-lead", "open-removed")}
    db.session.flush()
    for slug, (invite, token) in invites.items():
        url = f"/invite/{token}"
        page = client.get(url).get_data(as_text=True)
        assert "already a member" not in page and ">Join<" in page, slug
        response = client.post(url, data={"csrf_token": csrf_token(client.get(url))})
        assert response.headers["Location"] == f"/hubs/{slug}", slug
        assert flashes(client.get("/dashboard").get_data(as_text=True)) == [
            ("success", "Welcome! You are now a member of this hub.")], slug
        db.session.refresh(invite)
        assert invite.use_count == 0, slug
    assert kept() == before


# --- nor can answering an event show which events they are going to ---------------

def test_rsvp_answers_a_traveller_as_it_answers_someone_who_never_answered(app, world):
    from community.events.models import Rsvp, RsvpStatus
    from community.hubs.settings.services import create_invite

    traveller, organiser = world["traveller"], world["organiser"]
    event = world["public"]  # the traveller is going (a real RSVP)
    client = signed_in(app, traveller)
    turn_on(client)
    client.get("/dashboard")  # shows "Travel mode is on." once
    newcomer = make_user("fresh-rsvp@travel.example", display_name="Newcomer")
    make_membership(newcomer, world["listed"])
    db.session.flush()
    fresh = signed_in(app, newcomer)

    def kept():
        db.session.expire_all()
        return sorted((answer.event_id, answer.status.value, answer.guests) for answer in
                      db.session.scalars(select(Rsvp).where(Rsvp.user_id == traveller.id)))

    before = kept()
    url = f"/events/{event.public_id}"
    answers = []
    for who in (client, fresh):
        page = who.get(url)
        assert "You are going" not in page.get_data(as_text=True)
        response = who.post(f"{url}/rsvp", data={"csrf_token": csrf_token(page), "guests": "0"})
        assert response.status_code == 302 and response.headers["Location"] == url
        answers.append(flashes(who.get(url).get_data(as_text=True)))
    assert answers[0] == answers[1] == [("success", "You are going. See you there!")]
    # Withdrawing, even by a forged form, answers as to someone with no answer.
    response = client.post(f"{url}/withdraw", data={"csrf_token": csrf_token(client.get(url))},
                           follow_redirects=True)
    assert flashes(response.get_data(as_text=True)) == [
        ("error", "You have not answered this event.")]
    assert kept() == before

    # An invite-only event's link: the newcomer's answer, no use of the link taken.
    supper = make_event(world["listed"], title_en="Quiet supper", audience=Audience.INVITE)
    make_rsvp(supper, traveller)
    with app.test_request_context("/"):
        invite, token = create_invite(world["listed"], organiser, expires_in_days=7,
                                      max_uses=5, event=supper)
    db.session.flush()
    before = kept()
    link = f"/events/invite/{token}"
    page = client.get(link)
    assert page.status_code == 200 and "already" not in page.get_data(as_text=True)
    response = client.post(link, data={"csrf_token": csrf_token(page)})
    assert response.headers.get("Location") == f"/events/{supper.public_id}", response.status
    assert flashes(client.get("/dashboard").get_data(as_text=True)) == [
        ("success", "You are going. See you there!")]
    db.session.refresh(invite)
    assert invite.use_count == 0
    assert kept() == before
    assert RsvpStatus.GOING.value in str(before)


# --- no email to a bare address either -------------------------------------------

def test_no_mail_to_a_bare_address_while_travelling(app, world):
    traveller = world["traveller"]
    client = signed_in(app, traveller)
    # A link asked for before the switch, and mail to the address alone waiting.
    page = client.get("/account/email")
    client.post("/account/email", data={"csrf_token": csrf_token(page),
                                        "email": "before@travel.example", "password": PASSWORD})
    path = link_in(outbox("before@travel.example")[-1], "/account/email/confirm/")
    with app.test_request_context("/"):
        queue_templated_email(to_address=traveller.email, locale="en",
                              template="test_message", day=utcnow(), note="x")
    db.session.flush()
    turn_on(client)
    client.get("/dashboard")
    assert [e.status for e in outbox(traveller.email)] == [OutboxStatus.FAILED]

    # Changing the address would email the new one: refused, with the reason.
    page = client.get("/account/email")
    response = client.post("/account/email", data={
        "csrf_token": csrf_token(page), "email": "new@travel.example", "password": PASSWORD})
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Your email address cannot be changed while travel mode is on." in text
    assert outbox("new@travel.example") == []
    # The earlier link would tell the old address: refused too, and nothing changes.
    response = client.post(path, data={"csrf_token": csrf_token(client.get(path))})
    assert response.status_code == 409
    assert "cannot be changed while travel mode is on" in response.get_data(as_text=True)
    db.session.expire_all()
    assert traveller.email == "traveller@travel.example"
    assert [e.status for e in outbox(traveller.email)] == [OutboxStatus.FAILED]
    # Mail queued to the address alone, not to the account, is not written either.
    with app.test_request_context("/"):
        assert queue_templated_email(to_address="Traveller@Travel.example", locale="en",
                                     template="test_message", day=utcnow(), note="x") is None

    turn_off(client, password=PASSWORD, code=pyotp.TOTP(SECRET).now())
    response = client.post(path, data={"csrf_token": csrf_token(client.get(path))})
    assert response.status_code == 302
    db.session.expire_all()
    assert traveller.email == "before@travel.example"
    assert outbox("traveller@travel.example")[-1].status is OutboxStatus.PENDING
