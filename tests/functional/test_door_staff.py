"""Door staff (issue 16 item 3; DESIGN §1): a member an organiser picks checks
tickets at one event until it ends, one code at a time, and sees nothing
else: no attendee list, no names beyond the ticket just scanned, no member
page. Choosing and removing door staff is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from community.database import utcnow
from community.events.attendees import services as attendee_services
from community.events.door.models import DoorStaff
from community.events.models import EventStatus, Rsvp
from community.extensions import db
from community.factories import make_event, make_membership, make_user
from community.hubs.models import Membership, MembershipStatus
from tests.conftest import TEST_SECRET, csrf_token, outbox
from tests.functional.test_attendees import (
    MISSING,
    OUTSIDERS,
    STAFF,
    build_world,
    client_as,
    entries,
    mask,
)

NAMES = ("Attendee", "Going", "Waitlisted", "Pending", "Declined", "Somebody Else")


@pytest.fixture
def world():
    world = build_world()
    door = make_user("door@attendees.example", display_name="Door Volunteer")
    make_membership(door, world["hub"])
    staff = DoorStaff(event_id=world["event"].id, user_id=door.id)
    db.session.add(staff)
    db.session.flush()
    world["users"]["door"] = door
    world["staff"] = staff
    return world


def code_of(answer: Rsvp) -> str:
    return attendee_services.ticket_code(answer, TEST_SECRET)


def door_url(event) -> str:
    return f"/events/{event.public_id}/door"


def scan(client, event, code: str):
    page = client.get(door_url(event))
    response = client.post(door_url(event), data={"csrf_token": csrf_token(page), "code": code})
    return response, response.get_data(as_text=True)


def checked_in_at(answer: Rsvp):
    db.session.expire_all()
    return db.session.scalar(select(Rsvp.checked_in_at).where(Rsvp.id == answer.id))


# --- the permission matrix ----------------------------------------------------------

ROLES = ("visitor", *OUTSIDERS, "door", *STAFF)
ORGANISERS_ONLY = {"visitor": "login", **{r: 404 for r in (*OUTSIDERS, "door")}}
DOOR_ONLY = {"visitor": "login", **{r: 404 for r in (*OUTSIDERS, *STAFF)}, "door": 200}


def outcome(response):
    if response.status_code == 302 and response.headers["Location"].startswith("/sign-in"):
        return "login"
    return response.status_code


def test_every_role_against_every_door_route(app, world):
    event, users = world["event"], world["users"]
    base = f"/events/{event.public_id}"

    def request(role, method, url, data=None):
        client = client_as(app, users.get(role))
        token = csrf_token(client.get("/"))
        if method == "GET":
            return outcome(client.get(url))
        return outcome(client.post(url, data={"csrf_token": token, **(data or {})}))

    # Each staff role removes a volunteer of its own; the others try the first one.
    removable = {}
    for role in STAFF:
        volunteer = make_user(display_name=f"Volunteer for {role}")
        make_membership(volunteer, world["hub"])
        row = DoorStaff(event_id=event.id, user_id=volunteer.id)
        db.session.add(row)
        db.session.flush()
        removable[role] = row.public_id

    expected = {
        # An empty choice is sent back with its error.
        ("GET", base + "/door-staff"): {**ORGANISERS_ONLY, **{r: 200 for r in STAFF}},
        ("POST", base + "/door-staff"): {**ORGANISERS_ONLY, **{r: 400 for r in STAFF}},
        ("POST", base + "/door-staff/<staff_id>/remove"): {
            **ORGANISERS_ONLY, **{r: 302 for r in STAFF}},
        ("GET", base + "/door"): DOOR_ONLY,
        # An empty code is sent back with its error.
        ("POST", base + "/door"): {**DOOR_ONLY, "door": 400},
    }
    for (method, url), want in expected.items():
        got = {}
        for role in ROLES:
            target = url.replace("<staff_id>", removable.get(role, removable["organiser"]))
            got[role] = request(role, method, target)
        assert got == want, (method, url)
    # The door page of an event someone may not use is the page of no event (R8).
    member = client_as(app, users["member"])
    assert mask(member.get(base + "/door")) == mask(member.get(f"/events/{MISSING}/door"))


# --- at the door ------------------------------------------------------------------

def test_door_staff_learn_valid_used_or_wrong_event_and_one_name_at_most(app, world):
    event, answers = world["event"], world["answers"]
    door = client_as(app, world["users"]["door"])
    page = door.get(door_url(event)).get_data(as_text=True)
    assert not any(name in page for name in NAMES)
    before = len(outbox())

    response, body = scan(door, event, code_of(answers["going"]))
    assert response.status_code == 200
    assert "Valid" in body and "Going" in body and "They bring 1 guest." in body
    assert checked_in_at(answers["going"]) is not None
    assert not any(name in body for name in NAMES if name != "Going")
    # The note to organisers is not the door's business.
    assert "Vegetarian" not in body

    _, body = scan(door, event, code_of(answers["going"]))
    assert "Already used" in body and "First used at" in body

    _, body = scan(door, event, code_of(world["other_answer"]))
    assert "Not for this event" in body and "Somebody Else" not in body

    for unconfirmed in ("waitlisted", "pending", "declined"):
        _, body = scan(door, event, code_of(answers[unconfirmed]))
        assert "Not valid" in body and unconfirmed.title() not in body, unconfirmed
    _, body = scan(door, event, "not-a-ticket")
    assert "Not valid" in body

    # Audited as the door volunteer's check-in; no email goes anywhere.
    [entry] = entries("rsvp.checkin")
    assert entry.actor_id == world["users"]["door"].id
    assert entry.subject_user_id == world["users"]["going"].id
    assert len(outbox()) == before


def test_door_staff_open_no_list_and_no_organiser_or_member_page(app, world):
    event = world["event"]
    door = client_as(app, world["users"]["door"])
    base = f"/events/{event.public_id}"
    for url in (base + "/attendees", base + "/checkin", base + "/checkin?q=",
                base + "/attendees/message", base + "/door-staff",
                "/hubs/attendee-hub/organise/members", "/hubs/attendee-hub/organise/audit",
                "/hubs/attendee-hub/settings"):
        assert door.get(url).status_code == 404, url
    token = csrf_token(door.get(door_url(event)))
    assert door.post(base + "/attendees.csv", data={"csrf_token": token}).status_code == 404
    # No attendee list was opened on their behalf.
    assert entries("attendees.view") == []
    # The event page shows them what any member sees, not the organiser links.
    page = door.get(base).get_data(as_text=True)
    assert "/attendees" not in page and "/door-staff" not in page


def test_the_role_ends_with_the_event_and_with_membership(app, world):
    event, users = world["event"], world["users"]
    door = client_as(app, users["door"])
    assert "Door duty" in door.get("/dashboard").get_data(as_text=True)
    assert door.get(door_url(event)).status_code == 200
    # Moved so that it ended a minute ago (travelling a week on would end the session).
    ends_at = event.ends_at
    event.ends_at = utcnow() - timedelta(minutes=1)
    event.starts_at = event.ends_at - timedelta(hours=2)
    db.session.flush()
    assert door.get(door_url(event)).status_code == 404
    assert "Door duty" not in door.get("/dashboard").get_data(as_text=True)
    event.starts_at, event.ends_at = ends_at - timedelta(hours=2), ends_at

    membership = db.session.scalar(select(Membership).where(
        Membership.user_id == users["door"].id, Membership.hub_id == world["hub"].id))
    membership.status = MembershipStatus.REMOVED
    db.session.flush()
    assert door.get(door_url(event)).status_code == 404
    membership.status = MembershipStatus.ACTIVE
    event.status = EventStatus.CANCELLED
    db.session.flush()
    assert door.get(door_url(event)).status_code == 404
    assert "Door duty" not in door.get("/dashboard").get_data(as_text=True)


def test_organisers_choose_and_remove_door_staff_audited(app, world):
    event, users = world["event"], world["users"]
    organiser = client_as(app, users["organiser"])
    url = f"/events/{event.public_id}/door-staff"
    page = organiser.get(url)
    body = page.get_data(as_text=True)
    assert "Door Volunteer" in body  # already door staff
    assert "Pending Member" not in body  # only active members can be chosen
    member = db.session.scalar(select(Membership).where(
        Membership.user_id == users["member"].id, Membership.hub_id == world["hub"].id))
    response = organiser.post(url, data={"csrf_token": csrf_token(page),
                                         "member": member.public_id})
    assert response.status_code == 302
    assert client_as(app, users["member"]).get(door_url(event)).status_code == 200
    [entry] = entries("door.assign")
    assert (entry.actor_id, entry.subject_user_id) == (users["organiser"].id, users["member"].id)

    # A membership of another hub is refused with a message, not a 500.
    stranger = make_membership(make_user(), world["other_event"].hub)
    response = organiser.post(url, data={"csrf_token": csrf_token(page),
                                         "member": stranger.public_id})
    assert response.status_code == 400
    assert "Choose one of the options in the list." in response.get_data(as_text=True)

    row = db.session.scalar(select(DoorStaff).where(DoorStaff.user_id == users["member"].id))
    response = organiser.post(f"{url}/{row.public_id}/remove",
                              data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert client_as(app, users["member"]).get(door_url(event)).status_code == 404
    [entry] = entries("door.remove")
    assert entry.subject_user_id == users["member"].id


def test_no_door_staff_for_an_event_that_has_ended(app, world):
    from community.events.door import services as door_services

    event = world["event"]
    member = db.session.scalar(select(Membership).where(
        Membership.user_id == world["users"]["member"].id))
    event.ends_at = utcnow() - timedelta(minutes=1)
    event.starts_at = event.ends_at - timedelta(hours=2)
    db.session.flush()
    with app.test_request_context("/"), pytest.raises(door_services.DoorError) as error:
        door_services.assign(world["users"]["organiser"], event, member.public_id)
    assert "has not ended" in error.value.message
    assert db.session.scalar(select(DoorStaff).where(
        DoorStaff.user_id == world["users"]["member"].id)) is None


def test_retention_deletes_door_staff_of_events_ended_past_the_grace_only(app, world,
                                                                          caplog):
    from community import jobs, retention

    hub, event, users = world["hub"], world["event"], world["users"]
    long_over = make_event(hub, starts_at=utcnow() - timedelta(days=2))
    just_over = make_event(hub, starts_at=utcnow() - timedelta(hours=3))  # ended an hour ago
    for ended, user in ((long_over, "door"), (long_over, "member"), (just_over, "door")):
        db.session.add(DoorStaff(event_id=ended.id, user_id=users[user].id))
    db.session.flush()

    def assigned(which) -> list[int]:
        db.session.expire_all()
        return sorted(db.session.scalars(
            select(DoorStaff.user_id).where(DoorStaff.event_id == which.id)))

    with caplog.at_level("INFO", logger="community.retention"):
        done = jobs.retention()
    assert done["door_staff"] == 2
    assert assigned(long_over) == []
    # Within BURN_GRACE_PERIOD (24 hours) of its end, and still to come: kept.
    assert assigned(just_over) == [users["door"].id]
    assert assigned(event) == [users["door"].id]
    assert client_as(app, users["door"]).get(door_url(event)).status_code == 200
    page = client_as(app, users["organiser"]).get(f"/events/{event.public_id}/door-staff")
    assert "Door Volunteer" in page.get_data(as_text=True)
    # The log line gives a count and names no one, nor the event.
    assert "deleted 2 door-staff assignments" in caplog.text
    for name in ("Door Volunteer", "door@attendees.example", users["door"].public_id,
                 users["member"].public_id, long_over.public_id, long_over.title_en):
        assert name not in caplog.text

    assert retention.purge_door_staff() == 0  # idempotent


def test_in_a_hub_that_keeps_no_check_in_records_the_door_stores_nothing(app, world):
    world["hub"].keep_checkin_records = False
    db.session.flush()
    door = client_as(app, world["users"]["door"])
    for _ in range(2):
        _, body = scan(door, world["event"], code_of(world["answers"]["going"]))
        assert "Valid" in body and "nothing was stored" in body
    assert checked_in_at(world["answers"]["going"]) is None
    assert entries("rsvp.checkin") == []
