"""Statements per page for the issue 16 pages: none grows with the data (a
hub's names cost one query per hub per page, whatever the number of names)."""

from __future__ import annotations

import pyotp

from community.events.door.models import DoorStaff
from community.extensions import db
from community.factories import make_event, make_hub, make_membership, make_rsvp, make_user
from community.hubs.models import MemberRole
from tests.conftest import login_as
from tests.functional.test_query_counts import statements_for


def attendees(hub, event, n: int) -> None:
    for _ in range(n):
        user = make_user()
        make_membership(user, hub, hub_display_name=f"Alias {user.id}")
        make_rsvp(event, user)


def test_attendee_list_door_and_names_pages_do_not_grow_with_the_data(app):
    hub = make_hub()
    event = make_event(hub)
    organiser = make_user(totp_secret=pyotp.random_base32())
    make_membership(organiser, hub, MemberRole.ORGANISER)
    door = make_user()
    make_membership(door, hub)
    db.session.add(DoorStaff(event_id=event.id, user_id=door.id))
    attendees(hub, event, 3)
    pages = {
        "attendees": (organiser, f"/events/{event.public_id}/attendees"),
        "door staff": (organiser, f"/events/{event.public_id}/door-staff"),
        "door": (door, f"/events/{event.public_id}/door"),
        "dashboard": (door, "/dashboard"),
        "names": (door, "/account/names"),
    }
    few = {name: statements_for(login_as(app.test_client(), user), url)
           for name, (user, url) in pages.items()}
    attendees(hub, event, 30)
    many = {name: statements_for(login_as(app.test_client(), user), url)
            for name, (user, url) in pages.items()}
    # Opening the list writes one audit entry per person listed (R45): that part grows.
    audit_writes = 30
    assert many["attendees"] - few["attendees"] <= audit_writes
    for name in ("door staff", "door", "dashboard", "names"):
        assert many[name] == few[name], name
