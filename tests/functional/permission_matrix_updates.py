"""Permission matrix entries for posting hub updates (community/updates/routes.py).

Roles in order: visitor, unverified, other_member, pending, member, organiser,
lead, coordinator, admin. Posting is for those who manage the hub's members;
everyone else gets 404 before two-factor is even asked about (R8); staff in
the matrix have two-factor on. An empty form is shown again with its errors
(400). Routes on /updates/<public_id> and /comments/<public_id> have no
<slug>: tests/functional/test_updates.py and test_comments.py cover them.
"""

LOGIN = "login"

MANAGERS = [LOGIN, 404, 404, 404, 404, 200, 200, 200, 200]
MANAGERS_REFUSED_FORM = [LOGIN, 404, 404, 404, 404, 400, 400, 400, 400]

MATRIX = {
    ("GET", "/hubs/<slug>/updates/new"): {"listed": MANAGERS, "unlisted": MANAGERS},
    ("POST", "/hubs/<slug>/updates/new"): {
        "listed": MANAGERS_REFUSED_FORM, "unlisted": MANAGERS_REFUSED_FORM},
}
