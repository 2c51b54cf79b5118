"""Search engines (DESIGN §2 rule 1): one decision in permissions.py, one robots
meta tag emitted by base.html, inside <head>. Public pages of ordinary listed
hubs are left to search engines; high-risk hubs' pages, member, organiser,
admin and sign-in pages never are."""

from __future__ import annotations

import pyotp

from community.extensions import db
from community.factories import make_chapter, make_event, make_hub, make_membership, make_user
from community.hubs.models import MemberRole
from community.hubs.settings.services import set_high_risk
from community.permissions import hidden_from_search_engines
from tests.conftest import login_as

ROBOTS = '<meta name="robots" content="noindex, nofollow">'


def robots_tags(response) -> int:
    """How many robots meta tags the page has; each must be inside <head>."""
    html = response.get_data(as_text=True)
    head, _sep, body = html.partition("</head>")
    assert 'name="robots"' not in body
    return head.count('name="robots"')


def test_an_event_of_a_high_risk_hub_is_never_indexed(app):
    hub = make_hub(make_chapter("sr"), "quiet-hub")
    lead, member = make_user("lead@sr.example"), make_user("member@sr.example")
    make_membership(lead, hub, MemberRole.LEAD)
    make_membership(member, hub)
    set_high_risk(hub, lead, True)
    event = make_event(hub)
    db.session.flush()
    page = login_as(app.test_client(), member).get(f"/events/{event.public_id}")
    assert page.status_code == 200
    assert robots_tags(page) == 1 and ROBOTS in page.get_data(as_text=True)
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow"


def test_high_risk_alone_keeps_an_event_page_out_of_search_engines(app):
    # The event page's own copy of the rule used to forget the high-risk flag.
    hub = make_hub(make_chapter("hr"), "listed-but-high-risk", high_risk=True)
    event = make_event(hub)
    assert hidden_from_search_engines(event=event)
    page = app.test_client().get(f"/events/{event.public_id}")
    assert page.status_code == 200
    assert robots_tags(page) == 1 and ROBOTS in page.get_data(as_text=True)


def test_a_public_event_of_an_ordinary_listed_hub_is_left_to_search_engines(app):
    hub = make_hub(make_chapter("or"), "open-hub")
    event = make_event(hub)
    assert not hidden_from_search_engines(event=event)
    client = app.test_client()
    for path in (f"/events/{event.public_id}", f"/hubs/{hub.slug}", "/", "/events", "/hubs",
                 "/chapters/or"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert robots_tags(page) == 0, path
        assert "X-Robots-Tag" not in page.headers, path


def test_member_organiser_admin_and_sign_in_pages_are_never_indexed(app):
    hub = make_hub(make_chapter("mo"), "busy-hub")
    member = make_user("member@mo.example")
    make_membership(member, hub)
    lead = make_user("lead@mo.example", totp_secret=pyotp.random_base32())
    make_membership(lead, hub, MemberRole.LEAD)
    admin = make_user("admin@mo.example", is_site_admin=True, totp_secret=pyotp.random_base32())
    pages = {
        None: ["/sign-in", "/sign-up", "/reset-password", "/no-such-page"],
        member: ["/dashboard", "/account/settings", f"/hubs/{hub.slug}/members"],
        lead: [f"/hubs/{hub.slug}/organise/members", f"/hubs/{hub.slug}/settings",
               f"/hubs/{hub.slug}/events"],
        admin: ["/admin/", "/admin/users"],
    }
    for person, paths in pages.items():
        client = app.test_client() if person is None else login_as(app.test_client(), person)
        for path in paths:
            page = client.get(path)
            assert page.status_code in (200, 404), path
            assert robots_tags(page) == 1, path
            assert ROBOTS in page.get_data(as_text=True), path
