"""Door staff, in a real browser with JavaScript off: an organiser picks a member
as door staff; the member finds the door page on their dashboard, checks a
ticket once (valid), twice (already used), and cannot open the attendee list."""

from __future__ import annotations

import pyotp
import pytest

from community.events.attendees.services import ticket_code
from community.extensions import db
from community.factories import make_event, make_hub, make_membership, make_rsvp, make_user
from community.hubs.models import MemberRole
from tests.browser.journeys import PASSWORD, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.no_db]

SECRET = pyotp.random_base32()


@pytest.fixture
def door_event(live_server):
    with live_server.app.app_context():
        hub = make_hub(slug="door-journey")
        event = make_event(hub, title_en="Door journey night")
        make_membership(make_user("organiser@door.example", PASSWORD, totp_secret=SECRET,
                                  display_name="Door Organiser"), hub, MemberRole.ORGANISER)
        make_membership(make_user("volunteer@door.example", PASSWORD,
                                  display_name="Door Volunteer"), hub)
        guest = make_user("guest@door.example", PASSWORD, display_name="Ticket Holder")
        make_membership(guest, hub)
        answer = make_rsvp(event, guest)
        db.session.commit()
        return event.public_id, ticket_code(answer, live_server.app.config["SECRET_KEY"])


def test_door_staff_check_tickets_and_see_nothing_else_without_javascript(
    live_server, new_context, door_event
):
    public_id, code = door_event
    organiser = signed_in_page(new_context, "organiser@door.example", SECRET)
    organiser.goto(f"/events/{public_id}")
    organiser.get_by_role("link", name="Door staff").click()
    organiser.select_option("#member", label="Door Volunteer")
    organiser.get_by_role("button", name="Add door staff").click()
    assert "can now check tickets" in organiser.locator(".flashes").inner_text()

    door = signed_in_page(new_context, "volunteer@door.example")
    door.locator("#door-duty ~ ul a").first.click()
    assert door.url.endswith(f"/events/{public_id}/door")
    assert "Ticket Holder" not in door.content()

    door.fill("#code", code)
    door.get_by_role("button", name="Check the ticket").click()
    result = door.locator(".door-result").inner_text()
    assert "Valid" in result and "Ticket Holder" in result
    assert door.input_value("#code") == ""

    door.fill("#code", code)
    door.get_by_role("button", name="Check the ticket").click()
    assert "Already used" in door.locator(".door-result").inner_text()

    door.fill("#code", "not-a-ticket")
    door.get_by_role("button", name="Check the ticket").click()
    result = door.locator(".door-result").inner_text()
    assert "Not valid" in result and "Ticket Holder" not in result

    response = door.goto(f"/events/{public_id}/attendees")
    assert response.status == 404
