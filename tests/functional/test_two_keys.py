"""Two organisers to open an attendee list (issue 16 item 2): in a hub that asks
for it, one organiser asks and another agrees before the list can be opened or
downloaded; both steps are audited, attendees see the approval on "Who looked
at my RSVPs", and checking a ticket by its code still works without it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from community.database import utcnow
from community.events.attendees import access
from community.events.attendees import services as attendee_services
from community.events.attendees.access_models import ListAccessRequest
from community.extensions import db
from tests.conftest import TEST_SECRET, csrf_token
from tests.functional.test_attendees import (
    MISSING,
    OUTSIDERS,
    build_world,
    client_as,
    entries,
)

NAMES = ("Going", "Waitlisted", "Pending", "Declined")


@pytest.fixture
def world():
    world = build_world()
    world["hub"].attendee_list_two_keys = True
    db.session.flush()
    return world


def post(client, event, path, **data):
    page = client.get(f"/events/{event.public_id}/checkin")
    return client.post(f"/events/{event.public_id}/attendees{path}",
                       data={"csrf_token": csrf_token(page), **data})


def test_one_asks_another_agrees_then_the_list_opens_for_the_one_who_asked(app, world):
    event, users = world["event"], world["users"]
    organiser = client_as(app, users["organiser"])
    base = f"/events/{event.public_id}"

    locked = organiser.get(base + "/attendees")
    assert locked.status_code == 200
    text = locked.get_data(as_text=True)
    assert "second organiser must agree" in text
    assert not any(f">{name}<" in text for name in NAMES)
    assert entries("attendees.view") == []
    response = post(organiser, event, ".csv")
    assert response.status_code == 302 and entries("attendees.export") == []
    search = organiser.get(base + "/checkin?q=").get_data(as_text=True)
    assert "opens only when a second organiser agrees" in search and "Going" not in search

    assert post(organiser, event, "/access").status_code == 302
    [asked] = entries("attendees.request")
    assert asked.actor_id == users["organiser"].id
    request_ = db.session.scalars(select(ListAccessRequest)).one()
    # Nobody agrees to their own request.
    post(organiser, event, f"/access/{request_.public_id}/approve")
    assert entries("attendees.approve") == []
    assert "Ask another organiser" not in organiser.get(base + "/attendees").get_data(
        as_text=True)

    lead = client_as(app, users["lead"])
    lead_page = lead.get(base + "/attendees").get_data(as_text=True)
    assert "Organiser asked on" in lead_page
    assert post(lead, event, f"/access/{request_.public_id}/approve").status_code == 302
    approvals = entries("attendees.approve")
    assert all(entry.actor_id == users["lead"].id for entry in approvals)
    subjects = {entry.subject_user_id for entry in approvals} - {None}
    assert users["going"].id in subjects and users["declined"].id in subjects

    opened = organiser.get(base + "/attendees").get_data(as_text=True)
    assert "Going" in opened and "Waitlisted" in opened
    assert entries("attendees.view")
    # The lead did not get in by agreeing.
    assert "second organiser must agree" in lead.get(base + "/attendees").get_data(as_text=True)

    # Each attendee sees the approval on their own page.
    own = client_as(app, users["going"]).get("/account/rsvp-access").get_data(as_text=True)
    assert "Agreed, as a second organiser, to an attendee list being opened" in own


def test_the_approval_lasts_an_hour_and_a_request_a_day(app, world):
    event, users = world["event"], world["users"]
    with app.test_request_context("/"):
        request_ = access.ask(users["organiser"], event)
        later = request_.created_at + access.REQUEST_WINDOW + timedelta(minutes=1)
        with pytest.raises(attendee_services.AttendeeError):
            access.approve(users["lead"], event, request_.public_id, now=later)
        access.approve(users["lead"], event, request_.public_id)
    assert access.has_access(users["organiser"], event)
    assert not access.has_access(users["organiser"], event,
                                 now=utcnow() + access.ACCESS_WINDOW + timedelta(minutes=1))
    assert not access.has_access(users["lead"], event)


def test_checking_a_ticket_by_its_code_needs_no_second_organiser(app, world):
    event, answer = world["event"], world["answers"]["going"]
    organiser = client_as(app, world["users"]["organiser"])
    page = organiser.get(f"/events/{event.public_id}/checkin")
    code = attendee_services.ticket_code(answer, TEST_SECRET)
    response = organiser.post(f"/events/{event.public_id}/checkin",
                              data={"csrf_token": csrf_token(page), "code": code},
                              follow_redirects=True)
    assert "Checked in: Going." in response.get_data(as_text=True)


def test_the_new_routes_are_for_the_hubs_organisers_only(app, world):
    event = world["event"]
    with app.test_request_context("/"):
        request_ = access.ask(world["users"]["organiser"], event)
    for role in OUTSIDERS:
        client = client_as(app, world["users"][role])
        for path in ("/access", f"/access/{request_.public_id}/approve"):
            assert post(client, event, path).status_code == 404, (role, path)
    visitor = app.test_client()
    token = csrf_token(visitor.get("/"))
    response = visitor.post(f"/events/{event.public_id}/attendees/access",
                            data={"csrf_token": token})
    assert response.headers["Location"].startswith("/sign-in")
    organiser = client_as(app, world["users"]["lead"])
    assert post(organiser, event, "/access/not-a-request/approve").status_code == 302
    page = organiser.get(f"/events/{event.public_id}/checkin")
    assert organiser.post(f"/events/{MISSING}/attendees/access",
                          data={"csrf_token": csrf_token(page)}).status_code == 404
