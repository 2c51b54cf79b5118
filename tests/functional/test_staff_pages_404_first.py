"""Staff pages answer 404 to people who may not see them before they ask for
two-factor set-up or a fresh password (R8, R20): a plain member who opens an
attendee list must not learn from a two-factor prompt that the page exists.
Staff themselves are still sent to set up two-factor first."""

from __future__ import annotations

import re

import pytest

from community.extensions import db
from community.factories import (
    make_chapter,
    make_coordinator,
    make_event,
    make_hub,
    make_membership,
    make_rsvp,
    make_update,
    make_user,
)
from community.hubs.models import MemberRole
from tests.conftest import csrf_token, login_as

TWO_FACTOR = "/account/two-factor"
CONFIRM = "/account/confirm"
UNKNOWN = "A" * 22

# Every staff page, by area: organiser areas of hubs and events, attendee
# lists and check-in, chapter coordinator pages and admin.
STAFF_PAGES = [
    ("GET", "/hubs/{slug}/organise/members"),
    ("POST", "/hubs/{slug}/organise/members/{membership}/approve"),
    ("POST", "/hubs/{slug}/organise/members/{membership}/decline"),
    ("POST", "/hubs/{slug}/organise/members/{membership}/remove"),
    ("POST", "/hubs/{slug}/organise/members/{membership}/notes"),
    ("GET", "/hubs/{slug}/organise/members/{membership}/role"),
    ("GET", "/hubs/{slug}/organise/audit"),
    ("GET", "/hubs/{slug}/organise/audit.csv"),
    ("GET", "/hubs/{slug}/moderation"),
    ("POST", "/hubs/{slug}/moderation/" + UNKNOWN),
    ("GET", "/hubs/{slug}/settings"),
    ("GET", "/hubs/{slug}/settings/invites"),
    ("GET", "/hubs/{slug}/events"),
    ("GET", "/hubs/{slug}/events/new"),
    ("GET", "/hubs/{slug}/updates/new"),
    ("GET", "/events/{event}/edit"),
    ("GET", "/events/{event}/invites"),
    ("GET", "/events/{event}/attendees"),
    ("POST", "/events/{event}/attendees.csv"),
    ("GET", "/events/{event}/attendees/message"),
    ("POST", "/events/{event}/attendees/{rsvp}/confirm"),
    ("POST", "/events/{event}/attendees/{rsvp}/waitlist"),
    ("POST", "/events/{event}/attendees/{rsvp}/decline"),
    ("GET", "/events/{event}/checkin"),
    ("GET", "/updates/{update}/edit"),
    ("GET", "/chapters/{code}/registrations"),
    ("GET", "/chapters/{code}/moderation"),
    ("GET", "/chapters/{code}/audit"),
    ("GET", "/admin/"),
    ("GET", "/admin/users"),
    ("GET", "/admin/audit"),
]

# Member actions that would change who is walking (sign out, leave the hub).
NOT_WALKED = {"auth.sign_out", "hubs.leave", "events.withdraw", "members.delete_account",
              "static"}


@pytest.fixture
def place():
    chapter = make_chapter("zz")
    hub = make_hub(chapter, "walked-hub")
    event = make_event(hub, title_en="Walked event")
    update = make_update(hub)
    member = make_user("plain@walk.example")
    membership = make_membership(member, hub)
    rsvp = make_rsvp(event, member)
    return {"chapter": chapter, "hub": hub, "event": event, "update": update,
            "member": member, "membership": membership, "rsvp": rsvp}


def fill(path: str, place) -> str:
    return path.format(slug=place["hub"].slug, event=place["event"].public_id,
                       update=place["update"].public_id, code=place["chapter"].code,
                       membership=place["membership"].public_id,
                       rsvp=place["rsvp"].public_id)


def request(client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": csrf_token(client.get("/"))})


def rule_url(rule: str, place) -> str:
    """The rule with the walked hub, event, update and chapter in it."""
    by_prefix = {"/events/": place["event"].public_id, "/updates/": place["update"].public_id}
    public_id = next((value for prefix, value in by_prefix.items() if rule.startswith(prefix)),
                     UNKNOWN)
    values = {"slug": place["hub"].slug, "hub_slug": place["hub"].slug,
              "code": place["chapter"].code, "public_id": public_id,
              "membership_id": place["membership"].public_id,
              "rsvp_id": place["rsvp"].public_id}
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values.get(m.group(1), UNKNOWN), rule)


def test_a_plain_member_without_two_factor_gets_404_from_every_staff_page(app, place):
    client = login_as(app.test_client(), place["member"])
    for method, path in STAFF_PAGES:
        response = request(client, method, fill(path, place))
        assert response.status_code == 404, (method, path, response.headers.get("Location"))


def test_no_page_asks_a_plain_member_for_two_factor_or_a_fresh_password(app, place):
    """Walks every route: only the member's own account pages may ask them to
    confirm their password, and none may send them to two-factor set-up."""
    walked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_WALKED:
            continue
        url = rule_url(rule.rule, place)
        for method in sorted(rule.methods & {"GET", "POST"}):
            client = login_as(app.test_client(), place["member"], reauthenticated=False)
            location = request(client, method, url).headers.get("Location", "")
            assert not location.startswith(TWO_FACTOR), (method, rule.rule)
            if not rule.rule.startswith("/account"):
                assert not location.startswith(CONFIRM), (method, rule.rule)
            walked += 1
    assert walked > 100


def test_staff_without_two_factor_are_still_sent_to_set_it_up(app, place):
    lead = make_user("lead@walk.example")
    make_membership(lead, place["hub"], MemberRole.LEAD)
    make_coordinator(lead, place["chapter"])
    admin = make_user("admin@walk.example", is_site_admin=True)
    db.session.flush()
    for method, path in STAFF_PAGES:
        if method != "GET":
            continue
        person = admin if path.startswith("/admin") else lead
        client = login_as(app.test_client(), person)
        response = client.get(fill(path, place))
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith(TWO_FACTOR), path
