"""Permission matrix entries for the organiser pages (community/hubs/organise.py).

Roles in test_permission_matrix.ROLES order: visitor, unverified, other_member,
pending, member, organiser, lead, coordinator, admin. In the `world` fixture
only staff have two-factor authentication on; everyone else who is signed in
gets 404 before any two-factor prompt, so the prompt does not reveal the page
(R8, R20; test_staff_pages_404_first walks every staff page). A 302 for staff
is the post/redirect/get answer of a done change.

Routes with <membership_id> are skipped by the generic test, which substitutes
only <slug>; test_organise_members.test_membership_route_matrix runs them with
a real membership of the hub.
"""

LOGIN = "login"
SIGNED_IN_WITHOUT_2FA = [404, 404, 404, 404]
MEMBER = "/hubs/<slug>/organise/members/<membership_id>"


def both(outcomes: list) -> dict:
    return {"listed": outcomes, "unlisted": outcomes}


MATRIX = {
    ("GET", "/hubs/<slug>/organise/members"): both(
        [LOGIN, *SIGNED_IN_WITHOUT_2FA, 200, 200, 200, 200]),
    ("GET", "/hubs/<slug>/organise/audit"): both(
        [LOGIN, *SIGNED_IN_WITHOUT_2FA, 404, 200, 200, 200]),
    # The pending member's request.
    ("POST", MEMBER + "/approve"): both([LOGIN, *SIGNED_IN_WITHOUT_2FA, 302, 302, 302, 302]),
    ("POST", MEMBER + "/decline"): both([LOGIN, *SIGNED_IN_WITHOUT_2FA, 302, 302, 302, 302]),
    # The plain member's membership.
    ("POST", MEMBER + "/remove"): both([LOGIN, *SIGNED_IN_WITHOUT_2FA, 302, 302, 302, 302]),
    ("POST", MEMBER + "/notes"): both([LOGIN, *SIGNED_IN_WITHOUT_2FA, 302, 302, 302, 302]),
    # The organiser's membership, made a plain member again.
    ("GET", MEMBER + "/role"): both([LOGIN, *SIGNED_IN_WITHOUT_2FA, 404, 200, 200, 200]),
    ("POST", MEMBER + "/role"): both([LOGIN, *SIGNED_IN_WITHOUT_2FA, 404, 302, 302, 302]),
}
