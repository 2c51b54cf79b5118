"""The organiser's attendee pages: who may open them (R1, R8, R9, R20), what
they show (R2), the audit trail (R45), moving people between the lists
without overbooking, the CSV export and messages to attendees (R44)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import func, select

from community.audit_models import AuditEntry
from community.database import utcnow
from community.events.attendees import services as attendee_services
from community.events.models import Rsvp, RsvpStatus, Tier
from community.extensions import db
from community.factories import (
    make_chapter,
    make_coordinator,
    make_event,
    make_hub,
    make_membership,
    make_rsvp,
    make_user,
)
from community.hubs.models import MemberRole, MembershipStatus
from tests.conftest import csrf_token, login_as, outbox

EMAIL_MARKER = "marker-email"
ADDRESS = "MARKER-ADDRESS 12 Secret Street"
# Signed-in roles, each with two-factor on so that the page's own answer shows.
STAFF = ("organiser", "lead", "coordinator", "admin")
OUTSIDERS = ("member", "attendee", "pending_member", "other_organiser", "other_coordinator")
MISSING = "no-such-event-id-0000"


def mask(response) -> str:
    """A body with CSRF tokens and other form values masked (R8)."""
    return re.sub(r'value="[^"]*"', 'value=""', response.get_data(as_text=True))


@pytest.fixture
def world():
    return build_world()


def build_world() -> dict:
    """A hub with an event holding one answer of each kind, the hub's staff,
    and people who must not see the lists. Every email carries a marker."""
    chapter = make_chapter("at")
    hub = make_hub(chapter, "attendee-hub", name_en="Attendee hub")
    elsewhere = make_hub(make_chapter("ot"), "other-hub")

    def person(name, **kw):
        return make_user(f"{EMAIL_MARKER}-{name}@attendees.example",
                         display_name=kw.pop("display_name", name.replace("_", " ").title()),
                         totp_secret=pyotp.random_base32(), **kw)

    users = {name: person(name) for name in (
        *STAFF, *OUTSIDERS, "going", "waitlisted", "pending", "declined")}
    users["admin"].is_site_admin = True
    make_membership(users["organiser"], hub, MemberRole.ORGANISER)
    make_membership(users["lead"], hub, MemberRole.LEAD)
    make_coordinator(users["coordinator"], chapter)
    make_membership(users["other_organiser"], elsewhere, MemberRole.ORGANISER)
    make_coordinator(users["other_coordinator"], elsewhere.chapter)
    make_membership(users["pending_member"], hub, status=MembershipStatus.PENDING)
    for name in ("member", "attendee", "going", "waitlisted", "pending", "declined"):
        make_membership(users[name], hub)
    event = make_event(hub, title_en="Film night", capacity=10, max_guests=2, address=ADDRESS,
                       location_visibility=Tier.ATTENDEES)
    answers = {
        "attendee": make_rsvp(event, users["attendee"]),
        "going": make_rsvp(event, users["going"], guests=1, note="Vegetarian, thanks"),
        "waitlisted": make_rsvp(event, users["waitlisted"], RsvpStatus.WAITLISTED),
        "pending": make_rsvp(event, users["pending"], RsvpStatus.PENDING),
        "declined": make_rsvp(event, users["declined"], RsvpStatus.DECLINED),
    }
    other_event = make_event(elsewhere, title_en="Elsewhere")
    other_answer = make_rsvp(other_event, make_user(display_name="Somebody Else"))
    return {"hub": hub, "event": event, "users": users, "answers": answers,
            "other_event": other_event, "other_answer": other_answer, "chapter": chapter}


def client_as(app, user, **kw):
    client = app.test_client()
    return login_as(client, user, **kw) if user is not None else client


def status_of(answer: Rsvp) -> RsvpStatus | None:
    db.session.expire_all()
    return db.session.scalar(select(Rsvp.status).where(Rsvp.id == answer.id))


def post_action(client, event, answer_id: str, action: str):
    page = client.get(f"/events/{event.public_id}/attendees")
    return client.post(f"/events/{event.public_id}/attendees/{answer_id}/{action}",
                       data={"csrf_token": csrf_token(page)})


def entries(action: str, **where) -> list[AuditEntry]:
    db.session.expire_all()
    stmt = select(AuditEntry).where(AuditEntry.action == action)
    for name, value in where.items():
        stmt = stmt.where(getattr(AuditEntry, name) == value)
    return list(db.session.scalars(stmt.order_by(AuditEntry.id)))


def export(client, event):
    page = client.get(f"/events/{event.public_id}/attendees")
    return client.post(f"/events/{event.public_id}/attendees.csv",
                       data={"csrf_token": csrf_token(page)})


def send_message(client, event, **data):
    page = client.get(f"/events/{event.public_id}/attendees/message")
    form = {"group": "all", "subject": "Change of plan", "body": "We start at 7 instead."}
    return client.post(f"/events/{event.public_id}/attendees/message",
                       data={"csrf_token": csrf_token(page), **form, **data})


# --- who may open the lists (R1, R8, R20) -----------------------------------------

GET_PAGES = ("/attendees", "/attendees/message", "/checkin", "/checkin?q=")


@pytest.mark.parametrize("page", GET_PAGES)
def test_r1_attendee_pages_are_organisers_only(app, world, page):
    event = world["event"]
    for role in STAFF:
        response = client_as(app, world["users"][role]).get(f"/events/{event.public_id}{page}")
        assert response.status_code == 200, role
    for role in OUTSIDERS:
        client = client_as(app, world["users"][role])
        response = client.get(f"/events/{event.public_id}{page}")
        missing = client.get(f"/events/{MISSING}{page}")
        # R8: the same status and body as an event that does not exist.
        assert response.status_code == 404, role
        assert mask(response) == mask(missing), role
        assert "Going" not in response.get_data(as_text=True)


@pytest.mark.parametrize("page", GET_PAGES)
def test_r1_visitors_are_sent_to_sign_in_whether_or_not_the_event_exists(app, world, page):
    client = app.test_client()
    response = client.get(f"/events/{world['event'].public_id}{page}")
    missing = client.get(f"/events/{MISSING}{page}")
    assert response.status_code == missing.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_r1_outsiders_cannot_export_message_or_change_answers(app, world):
    event, answers = world["event"], world["answers"]
    pending_id = answers["pending"].public_id
    for role in OUTSIDERS:
        client = client_as(app, world["users"][role])
        token = csrf_token(client.get("/"))
        for path in ("/attendees.csv", "/attendees/message", f"/attendees/{pending_id}/confirm",
                     f"/attendees/{pending_id}/waitlist", f"/attendees/{pending_id}/decline",
                     "/checkin"):
            response = client.post(f"/events/{event.public_id}{path}",
                                   data={"csrf_token": token, "subject": "x", "body": "y",
                                         "code": "x"})
            missing = client.post(f"/events/{MISSING}{path}",
                                  data={"csrf_token": token, "subject": "x", "body": "y",
                                        "code": "x"})
            assert response.status_code == 404, (role, path)
            assert mask(response) == mask(missing), (role, path)
    assert status_of(answers["pending"]) is RsvpStatus.PENDING
    assert outbox() == []
    assert entries("attendees.export") == [] and entries("attendees.view") == []


def test_r20_attendee_list_needs_two_factor(app, world):
    organiser = world["users"]["organiser"]
    organiser.totp_secret = None
    db.session.flush()
    response = client_as(app, organiser).get(f"/events/{world['event'].public_id}/attendees")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/two-factor")


def test_r20_attendee_list_needs_a_reauthentication_in_the_last_ten_minutes(app, world):
    event = world["event"]
    organiser = world["users"]["organiser"]
    url = f"/events/{event.public_id}/attendees"
    stale = client_as(app, organiser, reauthenticated=False)
    response = stale.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/confirm")
    start = utcnow()
    with time_machine.travel(start, tick=False) as traveller:
        client = client_as(app, organiser)
        assert client.get(url).status_code == 200
        traveller.shift(timedelta(minutes=9))
        assert client.get(url).status_code == 200
        traveller.shift(timedelta(minutes=2))  # re-authenticated 11 minutes ago
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/account/confirm")
        assert "next=" in response.headers["Location"]


def test_r20_export_needs_a_recent_reauthentication_too(app, world):
    event = world["event"]
    fresh = client_as(app, world["users"]["organiser"])
    token = csrf_token(fresh.get(f"/events/{event.public_id}/attendees"))
    stale = client_as(app, world["users"]["lead"], reauthenticated=False)
    response = stale.post(f"/events/{event.public_id}/attendees.csv",
                          data={"csrf_token": csrf_token(stale.get("/"))})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/confirm")
    assert f"/events/{event.public_id}/attendees" in response.headers["Location"]
    assert entries("attendees.export") == []
    assert fresh.post(f"/events/{event.public_id}/attendees.csv",
                      data={"csrf_token": token}).status_code == 200


# --- what the pages show (R2) ------------------------------------------------------

def test_r2_organiser_routes_show_display_names_never_contact_details(app, world):
    event, users = world["event"], world["users"]
    organiser = client_as(app, users["organiser"])
    bodies = [organiser.get(f"/events/{event.public_id}{page}").get_data(as_text=True)
              for page in GET_PAGES]
    bodies.append(export(organiser, event).get_data(as_text=True))
    code_page = organiser.get(f"/events/{event.public_id}/checkin")
    code = attendee_services.ticket_code(world["answers"]["going"])
    bodies.append(organiser.post(f"/events/{event.public_id}/checkin",
                                 data={"csrf_token": csrf_token(code_page), "code": code},
                                 follow_redirects=True).get_data(as_text=True))
    bodies.append(send_message(organiser, event, follow_redirects=True).get_data(as_text=True))
    bodies.append(client_as(app, users["attendee"]).get(
        f"/events/{event.public_id}/ticket").get_data(as_text=True))
    for body in bodies:
        assert EMAIL_MARKER not in body
    listing = bodies[0]
    for name in ("Attendee", "Going", "Waitlisted", "Pending", "Declined"):
        assert f'<th scope="row">{name}</th>' in listing
    assert "Vegetarian, thanks" in listing
    # Each email goes to its own recipient and names no one else.
    emails = outbox()
    assert len(emails) == 4
    for email in emails:
        others = [u.email for u in users.values() if u.email != email.to_address]
        text = email.subject + email.body_text + email.body_html
        assert not any(address in text for address in others)
        assert "MARKER-ADDRESS" not in text


def test_lists_group_answers_with_guests_notes_and_check_in(app, world):
    event, answers = world["event"], world["answers"]
    answers["going"].checked_in_at = utcnow()
    db.session.flush()
    body = client_as(app, world["users"]["lead"]).get(
        f"/events/{event.public_id}/attendees").get_data(as_text=True)
    sections = {status: body.split(f'id="{status}-heading"')[1].split("</section>")[0]
                for status in ("going", "waitlisted", "pending", "declined")}
    assert "Going" in sections["going"] and "Attendee" in sections["going"]
    assert "Waitlisted" in sections["waitlisted"] and "Pending" in sections["pending"]
    assert "Declined" in sections["declined"]
    assert "3 of 10 places taken, guests included" in body  # two going, one guest
    assert "<time datetime" in sections["going"].split("Going</th>")[1].split("</tr>")[0]
    assert "Not yet" in sections["going"]


# --- the audit trail (R45, DESIGN §2 rule 8) ---------------------------------------

def test_r45_each_opening_is_audited_once_and_per_listed_person(app, world):
    event, users, hub = world["event"], world["users"], world["hub"]
    listed = {users[n].id for n in ("attendee", "going", "waitlisted", "pending", "declined")}
    start = utcnow()
    with time_machine.travel(start, tick=False) as traveller:
        client = client_as(app, users["organiser"])
        client.get(f"/events/{event.public_id}/attendees")
        [opening] = entries("attendees.view", subject_user_id=None)
        assert (opening.actor_id, opening.target_type, opening.target_id) == (
            users["organiser"].id, "event", event.public_id)
        assert (opening.hub_id, opening.chapter_id) == (hub.id, world["chapter"].id)
        people = [e for e in entries("attendees.view") if e.subject_user_id is not None]
        assert {e.subject_user_id for e in people} == listed and len(people) == len(listed)
        assert all(e.hub_id == hub.id and e.target_id == event.public_id for e in people)

        # A reload soon after is a new opening; the people were just seen.
        traveller.shift(timedelta(minutes=1))
        client.get(f"/events/{event.public_id}/attendees")
        assert len(entries("attendees.view", subject_user_id=None)) == 2
        assert len([e for e in entries("attendees.view") if e.subject_user_id]) == len(listed)

        # Later, each person gets a new entry: they see every separate look.
        traveller.shift(timedelta(minutes=11))
        client_as(app, users["organiser"]).get(f"/events/{event.public_id}/attendees")
        assert len([e for e in entries("attendees.view") if e.subject_user_id]) == 2 * len(
            listed)
        # Another organiser's look is recorded for each person at once.
        client_as(app, users["lead"]).get(f"/events/{event.public_id}/attendees")
        about_attendee = entries("attendees.view", subject_user_id=users["attendee"].id)
        assert {e.actor_id for e in about_attendee} == {users["organiser"].id, users["lead"].id}


def test_r45_a_member_finds_who_looked_at_their_answer_in_their_data_export(app, world):
    from community.members.services import export_user_data

    users = world["users"]
    client_as(app, users["lead"]).get(f"/events/{world['event'].public_id}/attendees")
    db.session.expire_all()
    data = export_user_data(users["waitlisted"])
    looked = [e for e in data["audit_entries"] if e["action"] == "attendees.view"]
    assert looked and all(e["about_you"] and e["hub"] == "attendee-hub" for e in looked)


# --- moving people between the lists ------------------------------------------------

def test_approving_a_pending_answer_confirms_it_and_emails_title_date_and_link(app, world):
    event, answers, users = world["event"], world["answers"], world["users"]
    client = client_as(app, users["organiser"])
    response = post_action(client, event, answers["pending"].public_id, "confirm")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/events/{event.public_id}/attendees"
    assert status_of(answers["pending"]) is RsvpStatus.GOING
    [email] = outbox(users["pending"].email)
    assert "Film night" in email.subject
    text = email.body_text + email.body_html
    assert f"https://harbour.test/events/{event.public_id}" in email.body_text
    assert "MARKER-ADDRESS" not in text + email.subject  # R44
    assert users["organiser"].email not in text
    assert not any(name in text for name in ("Attendee", "Waitlisted", "Declined"))
    assert re.findall(r"https?://[^\s<\"]+", email.body_text) == [
        f"https://harbour.test/events/{event.public_id}"]
    [entry] = entries("rsvp.confirm")
    assert entry.subject_user_id == users["pending"].id and entry.detail == "pending->going"
    assert entry.hub_id == world["hub"].id


def test_going_is_refused_when_the_event_is_full_guests_included(app, world):
    event, answers = world["event"], world["answers"]
    event.capacity = 4  # the attendee and "going" with a guest take 3
    answers["waitlisted"].guests = 1
    db.session.flush()
    client = client_as(app, world["users"]["organiser"])
    post_action(client, event, answers["waitlisted"].public_id, "confirm")
    assert status_of(answers["waitlisted"]) is RsvpStatus.WAITLISTED
    body = client.get(f"/events/{event.public_id}/attendees").get_data(as_text=True)
    assert "There is not enough room: Waitlisted needs 2 places" in body
    assert entries("rsvp.confirm") == [] and outbox() == []
    # One seat is enough for someone without guests.
    post_action(client, event, answers["pending"].public_id, "confirm")
    assert status_of(answers["pending"]) is RsvpStatus.GOING
    post_action(client, event, answers["declined"].public_id, "confirm")
    assert status_of(answers["declined"]) is RsvpStatus.DECLINED


def test_moving_between_going_and_the_waiting_list(app, world):
    event, answers = world["event"], world["answers"]
    client = client_as(app, world["users"]["lead"])
    post_action(client, event, answers["going"].public_id, "waitlist")
    assert status_of(answers["going"]) is RsvpStatus.WAITLISTED
    # Moved by hand: the freed places are not handed out behind the organiser's back.
    assert status_of(answers["waitlisted"]) is RsvpStatus.WAITLISTED
    post_action(client, event, answers["waitlisted"].public_id, "confirm")
    assert status_of(answers["waitlisted"]) is RsvpStatus.GOING
    post_action(client, event, answers["pending"].public_id, "waitlist")
    assert status_of(answers["pending"]) is RsvpStatus.WAITLISTED
    assert [e.detail for e in entries("rsvp.waitlist")] == ["going->waitlisted",
                                                           "pending->waitlisted"]
    # Already there: a message, not a change.
    post_action(client, event, answers["pending"].public_id, "waitlist")
    assert "already on the waiting list" in client.get(
        f"/events/{event.public_id}/attendees").get_data(as_text=True)


def test_declining_a_going_answer_gives_the_place_to_the_waiting_list(app, world):
    event, answers, users = world["event"], world["answers"], world["users"]
    event.capacity = 3
    db.session.flush()
    client = client_as(app, users["organiser"])
    response = post_action(client, event, answers["going"].public_id, "decline")
    assert response.status_code == 302
    assert status_of(answers["going"]) is RsvpStatus.DECLINED
    assert status_of(answers["waitlisted"]) is RsvpStatus.GOING
    [email] = outbox(users["waitlisted"].email)
    assert "place opened up" in email.subject.lower()
    page = client.get(f"/events/{event.public_id}/attendees").get_data(as_text=True)
    assert "1 person moved up from the waiting list" in page
    post_action(client, event, answers["pending"].public_id, "decline")
    assert status_of(answers["pending"]) is RsvpStatus.DECLINED


def test_two_organisers_confirming_the_last_place_do_not_overbook(app, world):
    event, answers = world["event"], world["answers"]
    event.capacity = 4
    db.session.flush()
    first = client_as(app, world["users"]["organiser"])
    second = client_as(app, world["users"]["lead"])
    # Both loaded the page while one place was free.
    first_token = csrf_token(first.get(f"/events/{event.public_id}/attendees"))
    second_token = csrf_token(second.get(f"/events/{event.public_id}/attendees"))
    first.post(f"/events/{event.public_id}/attendees/{answers['pending'].public_id}/confirm",
               data={"csrf_token": first_token})
    second.post(
        f"/events/{event.public_id}/attendees/{answers['waitlisted'].public_id}/confirm",
        data={"csrf_token": second_token})
    taken = db.session.scalar(select(func.sum(1 + Rsvp.guests)).where(
        Rsvp.event_id == event.id, Rsvp.status == RsvpStatus.GOING))
    assert taken == 4


def test_r9_answers_of_another_event_are_404(app, world):
    event, other_answer = world["event"], world["other_answer"]
    client = client_as(app, world["users"]["organiser"])
    token = csrf_token(client.get(f"/events/{event.public_id}/attendees"))
    missing = client.post(f"/events/{event.public_id}/attendees/nothing-here/confirm",
                          data={"csrf_token": token})
    assert missing.status_code == 404
    for action in ("confirm", "waitlist", "decline"):
        # Another hub's answer through this event's URL, and through its own.
        for event_id in (event.public_id, world["other_event"].public_id):
            response = client.post(
                f"/events/{event_id}/attendees/{other_answer.public_id}/{action}",
                data={"csrf_token": token})
            assert response.status_code == 404
            assert mask(response) == mask(missing)
    assert status_of(other_answer) is RsvpStatus.GOING
    for bad in ("%00", "x" * 300, "%E2%80%AE", "..%2F..", "' OR 1=1 --"):
        response = client.post(f"/events/{event.public_id}/attendees/{bad}/confirm",
                               data={"csrf_token": token})
        assert response.status_code == 404, bad


@pytest.mark.parametrize("path", [
    "/attendees.csv", "/attendees/message", "/attendees/{rsvp}/confirm",
    "/attendees/{rsvp}/waitlist", "/attendees/{rsvp}/decline", "/checkin",
])
def test_r26_attendee_posts_without_csrf_are_refused(app, world, path):
    event = world["event"]
    client = client_as(app, world["users"]["organiser"])
    url = f"/events/{event.public_id}" + path.format(rsvp=world["answers"]["pending"].public_id)
    response = client.post(url, data={"subject": "Hi", "body": "Hi", "group": "all",
                                      "code": "x"})
    assert response.status_code == 400
    assert status_of(world["answers"]["pending"]) is RsvpStatus.PENDING
    assert outbox() == []


# --- the CSV export -----------------------------------------------------------------

def test_csv_export_has_names_status_guests_and_check_in_only(app, world):
    event, users = world["event"], world["users"]
    world["answers"]["going"].checked_in_at = utcnow()
    db.session.flush()
    response = export(client_as(app, users["coordinator"]), event)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="attendees-{event.public_id}.csv"')
    text = response.get_data(as_text=True)
    assert EMAIL_MARKER not in text and "Vegetarian" not in text
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["Display name", "Status", "Guests", "Checked in"]
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {"Attendee", "Going", "Waitlisted", "Pending", "Declined"}
    assert by_name["Going"][1:3] == ["Going", "1"] and by_name["Going"][3]
    assert by_name["Pending"][1:] == ["Waiting for approval", "0", ""]
    [opening] = entries("attendees.export", subject_user_id=None)
    assert opening.detail == "count=5" and opening.actor_id == users["coordinator"].id
    assert len([e for e in entries("attendees.export") if e.subject_user_id]) == 5


@pytest.mark.parametrize(("name", "cell"), [
    ("=HYPERLINK(\"http://evil.example\")", "'=HYPERLINK(\"http://evil.example\")"),
    ("+1+2", "'+1+2"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tTab", "'\tTab"), ("Plain = fine", "Plain = fine"),
])
def test_csv_export_neutralises_formulas(app, world, name, cell):
    world["users"]["going"].display_name = name
    db.session.flush()
    text = export(client_as(app, world["users"]["organiser"]), world["event"]).get_data(
        as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert cell in [row[0] for row in rows]
    assert name not in [row[0] for row in rows] or name == cell


# --- messages to attendees (R44) ------------------------------------------------------

def test_message_goes_to_each_person_alone_without_the_organisers_address(app, world):
    event, users = world["event"], world["users"]
    client = client_as(app, users["organiser"])
    response = send_message(client, event, subject="Change of plan",
                            body="We start at 7 instead.\n\nSee you there.")
    assert response.status_code == 302
    emails = outbox()
    expected = {users[n].email for n in ("attendee", "going", "waitlisted", "pending")}
    assert sorted(e.to_address for e in emails) == sorted(expected)  # declined left out
    for email in emails:
        assert email.subject == "Film night: Change of plan"
        assert "We start at 7 instead." in email.body_text
        assert "We start at 7 instead." in email.body_html
        text = email.subject + email.body_text + email.body_html + email.extra_headers
        assert users["organiser"].email not in text and "MARKER-ADDRESS" not in text
        assert not any(address in text for address in expected - {email.to_address})
        assert f"https://harbour.test/events/{event.public_id}" in email.body_text
    [entry] = entries("attendees.message")
    assert entry.detail == "group=all recipients=4" and entry.hub_id == world["hub"].id
    assert "on its way to 4 people" in client.get(
        f"/events/{event.public_id}/attendees").get_data(as_text=True)


def test_message_to_one_group_and_never_twice_the_same(app, world):
    event, users = world["event"], world["users"]
    client = client_as(app, users["lead"])
    send_message(client, event, group="waitlisted")
    assert [e.to_address for e in outbox()] == [users["waitlisted"].email]
    response = send_message(client, event, group="waitlisted")
    assert response.status_code == 400
    assert "already has this message" in response.get_data(as_text=True)
    send_message(client, event, group="declined", body="Sorry, we are full.")
    assert outbox(users["declined"].email)
    assert len(entries("attendees.message")) == 2


def test_message_body_is_plain_text_and_the_subject_one_line(app, world):
    event, users = world["event"], world["users"]
    send_message(client_as(app, users["organiser"]), event, group="going",
                 subject="Hello\r\nBcc: victim@example.org",
                 body="<img src=https://evil.example/t.png> <b>bold</b>")
    [email] = outbox(users["going"].email)
    assert "\n" not in email.subject and "\r" not in email.subject
    assert "Bcc" not in email.extra_headers
    assert "<img" not in email.body_html and "&lt;img" in email.body_html
    assert "<img src=https://evil.example/t.png>" in email.body_text


@pytest.mark.parametrize(("data", "message"), [
    ({"subject": "x" * 151}, "Use at most 150 characters."),
    ({"body": "x" * 5001}, "Use at most 5000 characters."),
    ({"subject": "   "}, "Write a subject."),
    ({"body": ""}, "Write a message."),
    ({"group": "everyone-ever"}, "Choose who gets the message."),
    ({"group": "\x00"}, "Choose who gets the message."),
])
def test_message_form_refuses_bad_input_with_a_message(app, world, data, message):
    response = send_message(client_as(app, world["users"]["organiser"]), world["event"],
                            **data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert outbox() == [] and entries("attendees.message") == []


def test_message_to_an_empty_group_says_so(app, world):
    event = make_event(world["hub"])
    response = send_message(client_as(app, world["users"]["organiser"]), event)
    assert response.status_code == 400
    assert "Nobody is in that group." in response.get_data(as_text=True)


def test_message_subject_and_body_at_their_limits_are_sent(app, world):
    response = send_message(client_as(app, world["users"]["organiser"]), world["event"],
                            group="pending", subject="s" * 150, body="b" * 5000)
    assert response.status_code == 302
    [email] = outbox(world["users"]["pending"].email)
    assert "s" * 150 in email.subject and "b" * 5000 in email.body_text


def test_attendee_pages_in_chinese(app, world):
    world["users"]["organiser"].locale = "zh_Hant_HK"
    db.session.flush()
    response = client_as(app, world["users"]["organiser"]).get(
        f"/events/{world['event'].public_id}/attendees")
    assert response.status_code == 200
    assert 'lang="zh-Hant-HK"' in response.get_data(as_text=True)


@pytest.mark.no_db
def test_organisers_confirming_at_the_same_moment_never_overbook(app, database_url):
    """Real threads and committed rows, as test_rsvp_concurrency does for RSVPs."""
    import threading

    from sqlalchemy import delete

    from community import create_app
    from community.auth.models import User
    from community.events.models import Event
    from community.hubs.models import Chapter, Hub
    from community.outbox_models import OutboxEmail
    from community.transaction import immediate
    from tests.conftest import base_config

    people, capacity = 8, 3
    with app.app_context():
        hub = make_hub(slug="confirm-race")
        event = make_event(hub, capacity=capacity)
        admin = make_user("race-admin@attendees.example", is_site_admin=True)
        waiting = [make_user(f"race{n}@attendees.example") for n in range(people)]
        answer_ids = [make_rsvp(event, u, RsvpStatus.PENDING).id for u in waiting]
        db.session.commit()
        ids = (event.id, admin.id, [u.id for u in waiting], hub.id, hub.chapter_id)
    event_id, admin_id, user_ids, hub_id, chapter_id = ids
    racing = create_app(base_config(database_url))
    barrier = threading.Barrier(people)
    errors: list[BaseException] = []
    refused: list[str] = []

    def confirm(answer_id: int) -> None:
        with racing.test_request_context("/"):
            try:
                answer = db.session.get(Rsvp, answer_id)
                actor = db.session.get(User, admin_id)
                db.session.commit()  # end the reads, as a request that writes never has them
                barrier.wait(timeout=10)
                with immediate():
                    attendee_services.confirm(actor, answer)
                    db.session.commit()
            except attendee_services.AttendeeError as error:
                db.session.rollback()
                refused.append(error.message)
            except BaseException as error:  # noqa: BLE001 (reported below)
                errors.append(error)
            finally:
                db.session.remove()

    try:
        threads = [threading.Thread(target=confirm, args=(a,)) for a in answer_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        with racing.app_context():
            going = db.session.scalar(select(func.count()).select_from(Rsvp).where(
                Rsvp.event_id == event_id, Rsvp.status == RsvpStatus.GOING))
            emails = db.session.scalar(select(func.count()).select_from(OutboxEmail).where(
                OutboxEmail.user_id.in_(user_ids)))
        assert going == capacity and emails == capacity
        assert len(refused) == people - capacity
    finally:
        with racing.app_context():
            db.session.execute(delete(AuditEntry).where(AuditEntry.hub_id == hub_id))
            db.session.execute(delete(OutboxEmail).where(OutboxEmail.user_id.in_(user_ids)))
            db.session.execute(delete(Rsvp).where(Rsvp.event_id == event_id))
            db.session.execute(delete(Event).where(Event.id == event_id))
            db.session.execute(delete(User).where(User.id.in_([admin_id, *user_ids])))
            db.session.execute(delete(Hub).where(Hub.id == hub_id))
            db.session.execute(delete(Chapter).where(Chapter.id == chapter_id))
            db.session.commit()
            db.engine.dispose()


def test_an_answer_withdrawn_while_the_organiser_acts_gives_a_message(app, world):
    from sqlalchemy import delete

    answer = world["answers"]["pending"]
    db.session.execute(delete(Rsvp).where(Rsvp.id == answer.id))
    with app.test_request_context():
        for change in (attendee_services.confirm, attendee_services.waitlist,
                       attendee_services.decline):
            with pytest.raises(attendee_services.AttendeeError, match="just been withdrawn"):
                change(world["users"]["organiser"], answer)
