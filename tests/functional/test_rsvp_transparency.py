""""Who looked at my RSVPs" (issue 7 item 4, R45): a member sees each audited
opening of an attendee list that included them — hub, role, when — and never
the viewer's email."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from community import audit
from community.database import utcnow
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
from tests.conftest import login_as

URL = "/account/rsvp-access"


def staff(email: str):
    return make_user(email, totp_secret=pyotp.random_base32())


def test_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_opening_the_real_attendee_list_shows_up_without_the_email(app):
    hub = make_hub(make_chapter("tp"), "transparent", name_en="Transparent Hub")
    organiser = staff("secret-organiser@example.org")
    make_membership(organiser, hub, MemberRole.ORGANISER)
    me = make_user()
    make_membership(me, hub)
    event = make_event(hub)
    make_rsvp(event, me)
    assert login_as(app.test_client(), organiser).get(
        f"/events/{event.public_id}/attendees").status_code == 200

    html = login_as(app.test_client(), me).get(URL).get_data(as_text=True)
    assert "Transparent Hub" in html and "Organiser" in html
    assert "Opened an attendee list" in html
    assert "secret-organiser" not in html and organiser.display_name not in html


def test_roles_are_derived_now_and_only_my_entries_show(app):
    chapter = make_chapter("rn")
    hub = make_hub(chapter, "role-now", name_en="Role Now Hub")
    other_hub = make_hub(chapter, "other-role", name_en="Someone Else's Hub")
    me, someone = make_user(), make_user()
    lead, coordinator, admin, gone = (staff(f"{n}@example.org")
                                      for n in ("lead", "coord", "admin", "gone"))
    make_membership(lead, hub, MemberRole.LEAD)
    make_coordinator(coordinator, chapter)
    admin.is_site_admin = True
    former = make_membership(gone, hub, MemberRole.ORGANISER)
    event = make_event(hub)
    for actor, action in ((lead, "attendees.view"), (coordinator, "attendees.export"),
                          (admin, "attendees.view"), (gone, "attendees.view")):
        audit.record(actor, action, "event", event.public_id, hub=hub, subject_user=me)
    audit.record(lead, "attendees.view", "event", event.public_id, hub=other_hub,
                 subject_user=someone)
    audit.record(lead, "rsvp.confirm", "rsvp", "x", hub=hub, subject_user=me)
    former.status = MembershipStatus.REMOVED
    db.session.flush()

    html = login_as(app.test_client(), me).get(URL).get_data(as_text=True)
    for words in ("Hub lead", "Chapter coordinator", "Site admin", "Former organiser",
                  "Exported an attendee list", "4 times"):
        assert words in html, words
    assert "Someone Else" not in html
    assert "Confirmed someone" not in html
    assert "@example.org" not in html


def test_deleted_actor_is_a_former_organiser_and_pages_work(app):
    hub = make_hub(make_chapter("pg"), "paged")
    me = make_user()
    event = make_event(hub)
    for n in range(55):
        entry = audit.record(None, "attendees.view", "event", event.public_id, hub=hub,
                             subject_user=me)
        entry.created_at = utcnow() - timedelta(minutes=n)
    db.session.flush()
    client = login_as(app.test_client(), me)
    first = client.get(URL).get_data(as_text=True)
    assert "55 times" in first and "Page 1 of 2" in first
    assert first.count("Former organiser") == 50
    second = client.get(URL + "?page=2").get_data(as_text=True)
    assert second.count("Former organiser") == 5


@pytest.mark.parametrize("query", ["?page=0", "?page=-1", "?page=abc", "?page=%00",
                                   "?page=99999999999"])
def test_bad_page_never_500s(app, query):
    client = login_as(app.test_client(), make_user())
    response = client.get(URL + query)
    assert response.status_code == 200
    assert "Nobody has opened" in response.get_data(as_text=True)
