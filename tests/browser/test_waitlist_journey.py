"""RSVP → waiting list → promotion, in a real browser with JavaScript off."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from community.encryption import blind_index
from community.extensions import db
from community.factories import make_event, make_hub, make_membership, make_rsvp, make_user
from community.outbox_models import OutboxEmail
from tests.browser.journeys import PASSWORD, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.no_db]



@pytest.fixture
def nearly_full_event(live_server):
    """A public event with two seats, one taken, and two members who have not answered."""
    with live_server.app.app_context():
        hub = make_hub(slug="waitlist-journey")
        event = make_event(hub, title_en="Harbour boat trip", capacity=2)
        make_rsvp(event, make_user("early@journey.example"))
        for name in ("a", "b"):
            make_membership(make_user(f"{name}@journey.example", PASSWORD,
                                      display_name=f"Member {name.upper()}"), hub)
        db.session.commit()
        return event.public_id


def your_answer(page) -> str:
    return page.locator("section.rsvp").inner_text()


def test_last_seat_waiting_list_and_promotion_without_javascript(
    live_server, new_context, nearly_full_event
):
    path = f"/events/{nearly_full_event}"
    a = signed_in_page(new_context, "a@journey.example")
    b = signed_in_page(new_context, "b@journey.example")

    a.goto(path)
    a.get_by_role("button", name="I'm going").click()
    assert "You are going." in a.locator(".flashes").inner_text()
    assert "Going" in your_answer(a)

    b.goto(path)
    assert "waiting list" in b.locator("dl.facts").inner_text()
    b.get_by_role("button", name="I'm going").click()
    assert "you are on the waiting list" in b.locator(".flashes").inner_text()
    assert "You are number 1 on the waiting list." in your_answer(b)

    a.get_by_role("button", name="Withdraw my answer").click()
    assert "withdrawn" in a.locator(".flashes").inner_text()

    b.goto(path)
    answer = your_answer(b)
    assert "Going" in answer and "waiting list" not in answer
    assert b.get_by_role("link", name="Your ticket").count() == 1

    with live_server.app.app_context():
        emails = list(db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.to_index == blind_index("b@journey.example"))))
    promoted = [e for e in emails if (e.dedupe_key or "").startswith("waitlist:")]
    assert len(promoted) == 1
    assert promoted[0].subject == "A place opened up: Harbour boat trip"
    assert f"{live_server.url}{path}" in promoted[0].body_text
