"""Travel mode in a real browser with JavaScript off: the short address, the
switch, a dashboard like a new member's, the other device signed out, and the
password needed to come back."""

from __future__ import annotations

import pytest

from community.extensions import db
from community.factories import make_event, make_hub, make_membership, make_rsvp, make_user
from tests.browser.journeys import PASSWORD, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.no_db]



@pytest.fixture
def traveller(live_server):
    with live_server.app.app_context():
        hub = make_hub(slug="travel-journey", name_en="Travel Journey Hub")
        user = make_user("traveller@journey.example", PASSWORD, display_name="Journey Person")
        make_membership(user, hub)
        make_rsvp(make_event(hub, title_en="Travel journey picnic"), user)
        db.session.commit()
        return user.email


def test_travel_mode_on_and_off_without_javascript(live_server, new_context, traveller):
    laptop = signed_in_page(new_context, traveller)
    phone = signed_in_page(new_context, traveller)
    assert "Travel Journey Hub" in phone.content()

    phone.goto("/travel")
    assert phone.url.endswith("/account/travel")
    phone.get_by_role("button", name="Turn travel mode on").click()
    assert phone.url.endswith("/dashboard")
    text = phone.locator("main").inner_text()
    assert "You have not joined a hub yet." in text
    assert "Travel Journey Hub" not in text and "Travel journey picnic" not in text

    laptop.goto("/dashboard")
    assert "/sign-in" in laptop.url

    phone.goto("/travel")
    phone.fill("#password", "not the password at all")
    phone.get_by_role("button", name="Turn travel mode off").click()
    assert "Your password is not right." in phone.locator("main").inner_text()
    phone.fill("#password", PASSWORD)
    phone.get_by_role("button", name="Turn travel mode off").click()
    assert phone.url.endswith("/dashboard")
    text = phone.locator("main").inner_text()
    assert "Travel Journey Hub" in text and "Travel journey picnic" in text
