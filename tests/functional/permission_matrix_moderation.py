"""Permission matrix entries for hub moderation and the audit CSV
(community/hubs/moderation.py).

Roles in test_permission_matrix.ROLES order: visitor, unverified, other_member,
pending, member, organiser, lead, coordinator, admin. Signed-in people who
are not staff (none of whom has two-factor on) get 404 before any two-factor
prompt (R8, R20); organisers are not hub leads, so they get 404 too. The decision route, which
needs a real report of the hub, is run by
test_scoped_moderation.test_decision_route_matrix.
"""

LOGIN = "login"
SIGNED_IN_WITHOUT_2FA = [404, 404, 404, 404]


def both(outcomes: list) -> dict:
    return {"listed": outcomes, "unlisted": outcomes}


MATRIX = {
    ("GET", "/hubs/<slug>/moderation"): both(
        [LOGIN, *SIGNED_IN_WITHOUT_2FA, 404, 200, 200, 200]),
    # A dismissal of one open report of the hub.
    ("POST", "/hubs/<slug>/moderation/<report_id>"): both(
        [LOGIN, *SIGNED_IN_WITHOUT_2FA, 404, 302, 302, 302]),
    ("GET", "/hubs/<slug>/organise/audit.csv"): both(
        [LOGIN, *SIGNED_IN_WITHOUT_2FA, 404, 200, 200, 200]),
}
