"""Permission matrix entries for hub settings, the high-risk preset and invites.

Roles in order: visitor, unverified, other_member, pending, member, organiser,
lead, coordinator, admin. Editing the hub is for leads, coordinators and admins;
invites are for organisers too (they manage members). Everyone else gets 404,
as if the hub had no such page (R8); staff in the matrix have two-factor on.
The revoke rule has a second identifier: tests/functional/test_invites.py runs
its row with a real invite of each hub.
"""

LOGIN = "login"  # redirected to sign in

EDITORS = [LOGIN, 404, 404, 404, 404, 404, 200, 200, 200]
EDITORS_REDIRECTED = [LOGIN, 404, 404, 404, 404, 404, 302, 302, 302]
MANAGERS = [LOGIN, 404, 404, 404, 404, 200, 200, 200, 200]
MANAGERS_REDIRECTED = [LOGIN, 404, 404, 404, 404, 302, 302, 302, 302]

MATRIX = {
    ("GET", "/hubs/<slug>/settings"): {"listed": EDITORS, "unlisted": EDITORS},
    # An empty form is shown again with its errors.
    ("POST", "/hubs/<slug>/settings"): {"listed": EDITORS, "unlisted": EDITORS},
    # Without on or off: back to the settings page with a message.
    ("POST", "/hubs/<slug>/settings/high-risk"): {
        "listed": EDITORS_REDIRECTED, "unlisted": EDITORS_REDIRECTED},
    ("GET", "/hubs/<slug>/settings/invites"): {"listed": MANAGERS, "unlisted": MANAGERS},
    # An empty form is shown again with its errors.
    ("POST", "/hubs/<slug>/settings/invites"): {"listed": MANAGERS, "unlisted": MANAGERS},
    ("POST", "/hubs/<slug>/settings/invites/<invite_id>/revoke"): {
        "listed": MANAGERS_REDIRECTED, "unlisted": MANAGERS_REDIRECTED},
}
