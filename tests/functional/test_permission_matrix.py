"""The permission matrix (R1, R5, R8, R9): every role against every hub route.

It fails when a route with a hub in its URL is added without an entry here.
"""

from __future__ import annotations

import pyotp
import pytest

from community.factories import make_chapter, make_coordinator, make_hub, make_membership, make_user
from community.hubs.models import HubVisibility, JoinPolicy, MemberRole, MembershipStatus
from tests.conftest import csrf_token, login_as, sign_in

ROLES = ["visitor", "unverified", "other_member", "pending", "member", "organiser", "lead",
         "coordinator", "admin"]
STAFF = {"organiser", "lead", "coordinator", "admin"}
LOGIN = "login"  # redirected to sign in

# (method, rule) -> hub kind -> expected status per role, in ROLES order.
MATRIX = {
    ("GET", "/hubs/<slug>"): {
        "listed": [200] * 9,
        "unlisted": [404, 404, 404, 404, 200, 200, 200, 200, 200],
    },
    ("GET", "/hubs/<slug>/members"): {
        "listed": [LOGIN, 404, 404, 404, 200, 200, 200, 200, 200],
        "unlisted": [LOGIN, 404, 404, 404, 200, 200, 200, 200, 200],
    },
    ("POST", "/hubs/<slug>/members"): {
        "listed": [LOGIN, 404, 404, 404, 302, 302, 302, 200, 200],
        "unlisted": [LOGIN, 404, 404, 404, 302, 302, 302, 200, 200],
    },
    ("POST", "/hubs/<slug>/join"): {
        # unverified people are sent to verify; joins never reveal an unlisted hub.
        "listed": [LOGIN, 302, 302, 302, 302, 302, 302, 302, 302],
        "unlisted": [LOGIN, 302, 404, 404, 302, 302, 302, 302, 302],
    },
    ("POST", "/hubs/<slug>/leave"): {
        "listed": [LOGIN, 302, 302, 302, 302, 302, 302, 302, 302],
        "unlisted": [LOGIN, 404, 404, 404, 302, 302, 302, 302, 302],
    },
}


def _extra_entries() -> dict:
    """Entries kept beside the feature they cover: permission_matrix_*.py files here."""
    import importlib
    from pathlib import Path

    extra = {}
    for path in sorted(Path(__file__).parent.glob("permission_matrix_*.py")):
        module = importlib.import_module(f"tests.functional.{path.stem}")
        extra.update(module.MATRIX)
    return extra


MATRIX.update(_extra_entries())


@pytest.fixture
def world():
    chapter = make_chapter("mx")
    hubs = {
        "listed": make_hub(chapter, "matrix-listed", join_policy=JoinPolicy.APPROVAL),
        "unlisted": make_hub(chapter, "matrix-unlisted", visibility=HubVisibility.UNLISTED),
    }
    elsewhere = make_hub(chapter, "matrix-elsewhere")
    # Staff have two-factor on, as R20 requires of them.
    users = {role: make_user(f"{role}@matrix.example", verified=role != "unverified",
                             is_site_admin=role == "admin",
                             totp_secret=pyotp.random_base32() if role in STAFF else None)
             for role in ROLES if role != "visitor"}
    make_membership(users["other_member"], elsewhere)
    for hub in hubs.values():
        make_membership(users["pending"], hub, status=MembershipStatus.PENDING)
        make_membership(users["member"], hub)
        make_membership(users["organiser"], hub, MemberRole.ORGANISER)
        make_membership(users["lead"], hub, MemberRole.LEAD)
    make_coordinator(users["coordinator"], chapter)
    return {**hubs, "users": users, "chapter": chapter, "elsewhere": elsewhere}


def request_as(app, world, role, method, url, data=None):
    """One request by ``role``, signed in through a real server-side session."""
    client = app.test_client()
    if role != "visitor":
        login_as(client, world["users"][role])
    token = csrf_token(client.get("/"))
    if method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": token, "confirm": "yes", **(data or {})})


def outcome(response):
    location = response.headers.get("Location", "")
    if response.status_code == 302 and location.startswith("/sign-in"):
        return LOGIN
    return response.status_code


def only_slug(rule: str) -> bool:
    """Rules with a second identifier (a membership, an invite) have matrix tests of
    their own beside the feature; here they only have to be listed."""
    import re

    return set(re.findall(r"<([^>]+)>", rule)) == {"slug"}


@pytest.mark.parametrize("kind", ["listed", "unlisted"])
@pytest.mark.parametrize("route", [r for r in MATRIX if only_slug(r[1])],
                         ids=lambda r: f"{r[0]} {r[1]}")
def test_permission_matrix(app, world, route, kind):
    method, rule = route
    url = rule.replace("<slug>", world[kind].slug)
    actual = [outcome(request_as(app, world, role, method, url)) for role in ROLES]
    assert dict(zip(ROLES, actual, strict=True)) == dict(
        zip(ROLES, MATRIX[route][kind], strict=True))


def test_every_hub_route_is_in_the_matrix(app):
    hub_rules = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules() if "<slug>" in rule.rule
        for method in rule.methods or () if method in ("GET", "POST")
    }
    assert hub_rules == set(MATRIX)


def test_r5_pending_member_is_treated_as_a_visitor(app, world):
    client = app.test_client()
    sign_in(client, "pending@matrix.example")
    assert client.get("/hubs/matrix-unlisted").status_code == 404
    assert client.get("/hubs/matrix-listed/members").status_code == 404


def test_r9_organiser_of_one_hub_has_no_rights_in_another(app, world):
    other = make_hub(make_chapter("oo"), "someone-elses", visibility=HubVisibility.UNLISTED)
    client = login_as(app.test_client(), world["users"]["organiser"])
    assert client.get("/hubs/matrix-unlisted").status_code == 200
    assert client.get(f"/hubs/{other.slug}").status_code == 404
    assert client.get(f"/hubs/{other.slug}/members").status_code == 404
