"""Permission matrix entries for vouched admission (community/hubs/vouching).

Roles in order: visitor, unverified, other_member, pending, member, organiser,
lead, coordinator, admin. Every active member may answer requests to join
(coordinators and admins are not members of the hub, so they may not);
only leads, coordinators and admins read who vouched for whom (two-factor,
audited). The answer route has a second identifier: the world's hubs ask for
no vouches, so it is 404 here, and test_vouching.py runs it with real requests.
"""

LOGIN = "login"

MEMBERS = [LOGIN, 404, 404, 404, 200, 200, 200, 404, 404]
NOBODY_SIGNED_IN = [LOGIN, 404, 404, 404, 404, 404, 404, 404, 404]
LEADS = [LOGIN, 404, 404, 404, 404, 404, 200, 200, 200]

MATRIX = {
    ("GET", "/hubs/<slug>/vouching"): {"listed": MEMBERS, "unlisted": MEMBERS},
    ("POST", "/hubs/<slug>/vouching/<membership_id>"): {
        "listed": NOBODY_SIGNED_IN, "unlisted": NOBODY_SIGNED_IN},
    ("GET", "/hubs/<slug>/organise/vouches"): {"listed": LEADS, "unlisted": LEADS},
}
