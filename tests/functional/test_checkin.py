"""Tickets and the door check-in: only the owner sees a ticket, a signed code
checks in once, nothing forged or foreign gets through, and a high-risk hub
keeps no check-in records (DESIGN §2 rule 1)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from community.audit_models import AuditEntry
from community.database import utcnow
from community.events.attendees import services as attendee_services
from community.events.models import EventStatus, Rsvp
from community.extensions import db
from community.factories import make_event, make_hub, make_rsvp, make_user
from tests.conftest import TEST_SECRET, csrf_token
from tests.functional.test_attendees import (
    EMAIL_MARKER,
    MISSING,
    OUTSIDERS,
    STAFF,
    build_world,
    client_as,
    entries,
    mask,
)


@pytest.fixture
def world():
    return build_world()


def checked_in_at(answer: Rsvp):
    db.session.expire_all()
    return db.session.scalar(select(Rsvp.checked_in_at).where(Rsvp.id == answer.id))


def scan(client, event, code: str):
    """Submit a code as a door scanner would, and read the page it leads to."""
    page = client.get(f"/events/{event.public_id}/checkin")
    response = client.post(f"/events/{event.public_id}/checkin",
                           data={"csrf_token": csrf_token(page), "code": code})
    if response.status_code == 302:
        return response, client.get(response.headers["Location"]).get_data(as_text=True)
    return response, response.get_data(as_text=True)


def code_of(answer: Rsvp) -> str:
    return attendee_services.ticket_code(answer, TEST_SECRET)


# --- the ticket ---------------------------------------------------------------------

def test_r1_a_ticket_is_shown_only_to_its_confirmed_owner(app, world):
    event, users = world["event"], world["users"]
    response = client_as(app, users["attendee"]).get(f"/events/{event.public_id}/ticket")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert '<img src="data:image/svg+xml' in body
    code = code_of(world["answers"]["attendee"])
    shown = re.search(r"<code>([^<]+)</code>", body).group(1)
    assert "".join(shown.split()) == code
    assert EMAIL_MARKER not in body and "MARKER-ADDRESS" not in body
    # Nobody else has this ticket, not even the organisers; unconfirmed people have none.
    for role in (*STAFF, "member", "waitlisted", "pending", "declined", "other_organiser"):
        client = client_as(app, users[role])
        response = client.get(f"/events/{event.public_id}/ticket")
        missing = client.get(f"/events/{MISSING}/ticket")
        assert response.status_code == 404, role
        assert mask(response) == mask(missing), role
    visitor = app.test_client().get(f"/events/{event.public_id}/ticket")
    assert visitor.status_code == 302 and visitor.headers["Location"].startswith("/sign-in")


def test_ticket_code_is_signed_with_the_ticket_salt(app):
    answer = Rsvp(public_id="abcdefghijklmnopqrstuv")
    code = attendee_services.ticket_code(answer, TEST_SECRET)
    assert URLSafeSerializer(TEST_SECRET, salt="harbour:ticket").loads(code) == answer.public_id
    assert attendee_services.read_ticket(code, TEST_SECRET) == answer.public_id
    unsalted = URLSafeSerializer(TEST_SECRET).dumps(answer.public_id)
    with app.test_request_context(), pytest.raises(attendee_services.TicketError):
        attendee_services.read_ticket(unsalted, TEST_SECRET)


# --- scanning -----------------------------------------------------------------------

def test_a_scanned_ticket_checks_in_once(app, world):
    event, answer = world["event"], world["answers"]["going"]
    client = client_as(app, world["users"]["organiser"])
    response, page = scan(client, event, code_of(answer))
    assert response.status_code == 302
    assert "Checked in: Going." in page and "They bring 1 guest." in page
    first = checked_in_at(answer)
    assert first is not None
    [entry] = entries("rsvp.checkin")
    assert entry.subject_user_id == answer.user_id and entry.hub_id == world["hub"].id
    with time_machine.travel(utcnow() + timedelta(minutes=5), tick=False):
        _response, page = scan(client, event, code_of(answer))
    assert "Going was already checked in at" in page
    assert checked_in_at(answer) == first
    assert len(entries("rsvp.checkin")) == 1


def test_a_typed_code_with_spaces_works(app, world):
    event, users = world["event"], world["users"]
    ticket = client_as(app, users["attendee"]).get(f"/events/{event.public_id}/ticket")
    typed = re.search(r"<code>([^<]+)</code>", ticket.get_data(as_text=True)).group(1)
    assert " " in typed
    _response, page = scan(client_as(app, users["lead"]), event, f"  {typed}\n")
    assert "Checked in: Attendee." in page
    assert checked_in_at(world["answers"]["attendee"]) is not None


@pytest.mark.parametrize("code", [
    "garbage", "a.b", "....", "\x00garbage", "票" * 20, "%00", "' OR 1=1 --",
    URLSafeSerializer("another-secret-key-that-is-long-enough", salt="harbour:ticket").dumps(
        "abcdefghijklmnopqrstuv"),
    URLSafeSerializer(TEST_SECRET, salt="harbour:ticket").dumps(12345),
    URLSafeSerializer(TEST_SECRET, salt="harbour:ticket").dumps("\x00bad"),
    URLSafeSerializer(TEST_SECRET, salt="harbour:ticket").dumps(["a", "b"]),
])
def test_garbage_and_forged_tickets_are_refused_without_an_error(app, world, code):
    client = client_as(app, world["users"]["organiser"])
    response, page = scan(client, world["event"], code)
    assert response.status_code == 302
    assert "This is not a valid ticket." in page
    assert all(checked_in_at(a) is None for a in world["answers"].values())


@pytest.mark.parametrize(("code", "message"), [
    ("", "Enter or scan a ticket code."),
    ("   ", "Enter or scan a ticket code."),
    ("\x00\x00", "Enter or scan a ticket code."),
    ("x" * 201, "That is not a ticket code."),
    ("x" * 100_000, "That is not a ticket code."),
])
def test_empty_and_overlong_codes_get_a_message_on_the_form(app, world, code, message):
    response, page = scan(client_as(app, world["users"]["organiser"]), world["event"], code)
    assert response.status_code == 400
    assert message in page and 'aria-invalid="true"' in page


def test_another_events_ticket_is_not_for_this_event(app, world):
    client = client_as(app, world["users"]["organiser"])
    _response, page = scan(client, world["event"], code_of(world["other_answer"]))
    assert "This is not a ticket for this event." in page
    assert checked_in_at(world["other_answer"]) is None
    # Even between two events of the same hub.
    sibling = make_event(world["hub"])
    _response, page = scan(client, sibling, code_of(world["answers"]["attendee"]))
    assert "This is not a ticket for this event." in page


def test_unconfirmed_and_withdrawn_answers_do_not_get_in(app, world):
    event, answers = world["event"], world["answers"]
    client = client_as(app, world["users"]["organiser"])
    for name in ("waitlisted", "pending", "declined"):
        _response, page = scan(client, event, code_of(answers[name]))
        assert "does not have a confirmed place" in page, name
        assert checked_in_at(answers[name]) is None
    code = code_of(answers["going"])
    db.session.delete(answers["going"])
    db.session.flush()
    _response, page = scan(client, event, code)
    assert "This ticket is no longer valid" in page


def test_a_cancelled_event_checks_nobody_in(app, world):
    world["event"].status = EventStatus.CANCELLED
    db.session.flush()
    _response, page = scan(client_as(app, world["users"]["organiser"]), world["event"],
                           code_of(world["answers"]["going"]))
    assert "This event is cancelled." in page
    assert checked_in_at(world["answers"]["going"]) is None


def test_high_risk_hub_only_validates_the_ticket_and_stores_nothing(app):
    import pyotp

    from community.factories import make_membership
    from community.hubs.models import MemberRole

    hub = make_hub(high_risk=True, keep_checkin_records=False)
    organiser = make_user(totp_secret=pyotp.random_base32())
    make_membership(organiser, hub, MemberRole.ORGANISER)
    event = make_event(hub)
    answer = make_rsvp(event, make_user(display_name="Careful Person"))
    client = client_as(app, organiser)
    response, page = scan(client, event, code_of(answer))
    assert response.status_code == 302
    assert "Valid ticket for Careful Person." in page and "nothing was stored" in page
    assert checked_in_at(answer) is None
    # Scanning again says the same: there is no record to remember it by.
    _response, page = scan(client, event, code_of(answer))
    assert "Valid ticket for Careful Person." in page and "already" not in page
    # The list's button only validates too, and no audit entry names the person.
    page = client.get(f"/events/{event.public_id}/checkin?q=careful")
    client.post(f"/events/{event.public_id}/checkin?q=careful",
                data={"csrf_token": csrf_token(page), "rsvp": answer.public_id})
    assert checked_in_at(answer) is None
    assert entries("rsvp.checkin") == []
    assert "Not recorded in this hub" in client.get(
        f"/events/{event.public_id}/attendees").get_data(as_text=True)


# --- the list at the door -------------------------------------------------------------

def test_checkin_list_is_searchable_and_has_a_button_per_confirmed_attendee(app, world):
    event, answers = world["event"], world["answers"]
    client = client_as(app, world["users"]["organiser"])
    plain = client.get(f"/events/{event.public_id}/checkin").get_data(as_text=True)
    assert "Attendee</th>" not in plain  # no names until the list is asked for
    everyone = client.get(f"/events/{event.public_id}/checkin?q=").get_data(as_text=True)
    assert '<th scope="row">Attendee</th>' in everyone and '<th scope="row">Going</th>' in everyone
    assert "Waitlisted" not in everyone and "Pending</th>" not in everyone
    found = client.get(f"/events/{event.public_id}/checkin?q=GOI")
    body = found.get_data(as_text=True)
    assert '<th scope="row">Going</th>' in body and "Attendee</th>" not in body
    assert "1 confirmed attendee found" in body
    response = client.post(f"/events/{event.public_id}/checkin?q=GOI",
                           data={"csrf_token": csrf_token(found),
                                 "rsvp": answers["going"].public_id})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/events/{event.public_id}/checkin?q=GOI"
    assert checked_in_at(answers["going"]) is not None
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Checked in: Going." in page
    [opening, *_rest] = entries("attendees.view", subject_user_id=None)
    assert opening.detail == "list=checkin count=2"


@pytest.mark.parametrize("query", ["%", "_", "\\", "' OR 1=1 --", "\x00%", "票", "q" * 100])
def test_checkin_search_survives_odd_queries(app, world, query):
    client = client_as(app, world["users"]["organiser"])
    response = client.get(f"/events/{world['event'].public_id}/checkin",
                          query_string={"q": query})
    assert response.status_code == 200
    assert "Attendee</th>" not in response.get_data(as_text=True)


def test_checkin_search_longer_than_allowed_shows_a_message(app, world):
    client = client_as(app, world["users"]["organiser"])
    response = client.get(f"/events/{world['event'].public_id}/checkin",
                          query_string={"q": "q" * 101})
    assert response.status_code == 200
    assert "Use at most 100 characters." in response.get_data(as_text=True)


def test_r20_the_door_list_needs_a_recent_reauthentication_but_scanning_does_not(app, world):
    event = world["event"]
    stale = client_as(app, world["users"]["organiser"], reauthenticated=False)
    body = stale.get(f"/events/{event.public_id}/checkin?q=").get_data(as_text=True)
    assert "Attendee</th>" not in body and "/account/confirm?next=" in body
    assert entries("attendees.view") == []
    _response, page = scan(stale, event, code_of(world["answers"]["attendee"]))
    assert "Checked in: Attendee." in page


def test_r1_outsiders_get_404_from_the_door(app, world):
    event = world["event"]
    code = code_of(world["answers"]["going"])
    for role in OUTSIDERS:
        client = client_as(app, world["users"][role])
        token = csrf_token(client.get("/"))
        for data in ({"code": code}, {"rsvp": world["answers"]["going"].public_id}):
            response = client.post(f"/events/{event.public_id}/checkin",
                                   data={"csrf_token": token, **data})
            assert response.status_code == 404, role
    assert checked_in_at(world["answers"]["going"]) is None


def test_r9_the_door_button_refuses_another_events_answer(app, world):
    event = world["event"]
    client = client_as(app, world["users"]["organiser"])
    page = client.get(f"/events/{event.public_id}/checkin?q=")
    for rsvp_id in (world["other_answer"].public_id, "nothing-here", "x" * 64, "a\x00b"):
        response = client.post(f"/events/{event.public_id}/checkin",
                               data={"csrf_token": csrf_token(page), "rsvp": rsvp_id})
        assert response.status_code == 404, rsvp_id
    for rsvp_id in ("x" * 65, "\x00", ""):
        response = client.post(f"/events/{event.public_id}/checkin",
                               data={"csrf_token": csrf_token(page), "rsvp": rsvp_id})
        assert response.status_code == 400
    assert checked_in_at(world["other_answer"]) is None


def test_no_checkin_without_csrf(app, world):
    event = world["event"]
    client = client_as(app, world["users"]["organiser"])
    response = client.post(f"/events/{event.public_id}/checkin",
                           data={"code": code_of(world["answers"]["going"])})
    assert response.status_code == 400
    assert checked_in_at(world["answers"]["going"]) is None
    assert db.session.scalar(select(AuditEntry.id).where(
        AuditEntry.action == "rsvp.checkin")) is None


def test_checked_in_time_shows_on_the_attendee_list_and_in_the_export(app, world):
    event = world["event"]
    client = client_as(app, world["users"]["organiser"])
    scan(client, event, code_of(world["answers"]["attendee"]))
    page = client.get(f"/events/{event.public_id}/attendees").get_data(as_text=True)
    row = page.split('<th scope="row">Attendee</th>')[1].split("</tr>")[0]
    assert "<time datetime" in row
    listing = client.get(f"/events/{event.public_id}/checkin?q=attendee").get_data(
        as_text=True)
    assert 'name="rsvp"' not in listing  # already in: no button
