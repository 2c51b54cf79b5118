"""Per-hub display names (issue 16 item 5): a member may go by a different name
in each hub; organisers and members of that hub see only that name — member
lists, attendee lists, the CSV, check-in, the door, comments, the audit log —
and the other hub never sees it. The member area lists which name is used where."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from community.events.attendees import services as attendee_services
from community.events.door.models import DoorStaff
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
from community.hubs.models import MemberRole, Membership
from community.updates.models import Comment, UpdateAudience
from tests.conftest import TEST_SECRET, csrf_token, login_as

ACCOUNT_NAME = "Account Alias"
HUB_NAME = "Ah Lam in Leeds"


@pytest.fixture
def world():
    chapter = make_chapter("hn")
    leeds = make_hub(chapter, "names-leeds", name_en="Leeds Hub")
    york = make_hub(chapter, "names-york", name_en="York Hub")
    person = make_user("person@names.example", display_name=ACCOUNT_NAME)
    organisers = {}
    for hub in (leeds, york):
        organisers[hub.slug] = make_user(f"org-{hub.slug}@names.example",
                                         totp_secret=pyotp.random_base32())
        # Leads: they read the hub's audit log too.
        make_membership(organisers[hub.slug], hub, MemberRole.LEAD)
    memberships = {hub.slug: make_membership(person, hub, listed_to_members=True)
                   for hub in (leeds, york)}
    events = {hub.slug: make_event(hub, title_en=f"Meet-up in {hub.name_en}")
              for hub in (leeds, york)}
    answers = {slug: make_rsvp(event, person) for slug, event in events.items()}
    return {"leeds": leeds, "york": york, "person": person, "organisers": organisers,
            "memberships": memberships, "events": events, "answers": answers}


def signed_in(app, user):
    return login_as(app.test_client(), user)


def set_name(client, membership, name):
    page = client.get("/account/names")
    prefix = membership.public_id
    return client.post(f"/account/names/{prefix}",
                       data={f"{prefix}-csrf_token": csrf_token(page), f"{prefix}-name": name})


def test_a_member_chooses_a_name_for_one_hub_and_sees_which_name_is_used_where(app, world):
    client = signed_in(app, world["person"])
    response = set_name(client, world["memberships"]["names-leeds"], HUB_NAME)
    assert response.status_code == 302
    db.session.expire_all()
    assert world["memberships"]["names-leeds"].hub_display_name == HUB_NAME
    page = client.get("/account/names").get_data(as_text=True)
    leeds_row = page.split("Leeds Hub", 1)[1].split("</tr>", 1)[0]
    york_row = page.split("York Hub", 1)[1].split("</tr>", 1)[0]
    assert HUB_NAME in leeds_row and HUB_NAME not in york_row
    assert ACCOUNT_NAME in york_row and "your display name" in york_row
    # No real name is asked anywhere on the page.
    assert "real name" not in page.lower().replace("never ask for your real name", "")

    # Empty: back to the account's name.
    set_name(client, world["memberships"]["names-leeds"], "")
    db.session.expire_all()
    assert world["memberships"]["names-leeds"].hub_display_name == ""


def test_others_in_the_hub_see_only_the_hub_name_and_the_other_hub_never_sees_it(app, world):
    world["memberships"]["names-leeds"].hub_display_name = HUB_NAME
    leeds_event = world["events"]["names-leeds"]
    update = make_update(world["leeds"], audience=UpdateAudience.MEMBERS)
    db.session.add(Comment(update_id=update.id, author_id=world["person"].id, body="Hello!"))
    db.session.flush()
    organiser = signed_in(app, world["organisers"]["names-leeds"])
    base = f"/events/{leeds_event.public_id}"
    token = csrf_token(organiser.get(base + "/attendees"))
    pages = {
        "organiser members": organiser.get("/hubs/names-leeds/organise/members"),
        "attendees": organiser.get(base + "/attendees"),
        "attendee csv": organiser.post(base + "/attendees.csv", data={"csrf_token": token}),
        "check-in list": organiser.get(base + "/checkin?q="),
        "members area": organiser.get("/hubs/names-leeds/members"),
        "comments": organiser.get(f"/updates/{update.public_id}"),
    }
    for name, response in pages.items():
        text = response.get_data(as_text=True)
        assert response.status_code == 200, name
        assert HUB_NAME in text, name
        assert ACCOUNT_NAME not in text, name

    # Check-in by code, at the organiser's desk and at the door.
    code = attendee_services.ticket_code(world["answers"]["names-leeds"], TEST_SECRET)
    page = organiser.get(base + "/checkin")
    text = organiser.post(base + "/checkin", data={"csrf_token": csrf_token(page), "code": code},
                          follow_redirects=True).get_data(as_text=True)
    assert HUB_NAME in text and ACCOUNT_NAME not in text
    audit = organiser.get("/hubs/names-leeds/organise/audit")
    assert audit.status_code == 200
    audit = audit.get_data(as_text=True)
    assert HUB_NAME in audit and ACCOUNT_NAME not in audit

    door_person = make_user(display_name="Doorkeeper")
    make_membership(door_person, world["leeds"])
    db.session.add(DoorStaff(event_id=leeds_event.id, user_id=door_person.id))
    db.session.flush()
    world["answers"]["names-leeds"].checked_in_at = None
    db.session.flush()
    door = signed_in(app, door_person)
    page = door.get(base + "/door")
    text = door.post(base + "/door", data={"csrf_token": csrf_token(page),
                                           "code": code}).get_data(as_text=True)
    assert HUB_NAME in text and ACCOUNT_NAME not in text

    # York's organiser never sees the Leeds name.
    york = signed_in(app, world["organisers"]["names-york"])
    york_event = world["events"]["names-york"]
    for url in ("/hubs/names-york/organise/members", f"/events/{york_event.public_id}/attendees",
                "/hubs/names-york/members"):
        text = york.get(url).get_data(as_text=True)
        assert ACCOUNT_NAME in text and HUB_NAME not in text, url


def test_only_ones_own_membership_and_a_valid_name(app, world):
    client = signed_in(app, world["person"])
    other = make_membership(make_user(), world["leeds"])
    assert set_name(client, other, "Sneaky").status_code == 404
    assert set_name(client, world["memberships"]["names-leeds"], "x" * 65).status_code == 400
    response = set_name(client, world["memberships"]["names-leeds"], "Two\u202elines")
    assert response.status_code == 400
    assert "invisible control characters" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Membership.hub_display_name).where(
        Membership.id == world["memberships"]["names-leeds"].id)) == ""
    visitor = app.test_client()
    assert visitor.get("/account/names").headers["Location"].startswith("/sign-in")


def test_travel_mode_hides_the_list_of_names(app, world):
    world["memberships"]["names-leeds"].hub_display_name = HUB_NAME
    world["person"].travel_mode_since = world["person"].created_at
    db.session.flush()
    client = signed_in(app, world["person"])
    page = client.get("/account/names").get_data(as_text=True)
    assert HUB_NAME not in page and "Leeds Hub" not in page
    assert set_name(client, world["memberships"]["names-leeds"], "New").status_code == 404
