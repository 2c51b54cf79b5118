"""Permission matrix entries for the organiser event pages (community/events/manage.py).

Everyone but organisers, leads, coordinators and admins gets 404 (R8); an empty
POST is sent back with its errors (400). The <public_id> routes are tested in
test_event_management.py.
"""

LOGIN = "login"
ORGANISERS = [LOGIN, 404, 404, 404, 404, 200, 200, 200, 200]
ORGANISERS_REFUSED = [LOGIN, 404, 404, 404, 404, 400, 400, 400, 400]


def both(outcomes):
    return {"listed": outcomes, "unlisted": outcomes}


MATRIX = {
    ("GET", "/hubs/<slug>/events"): both(ORGANISERS),
    ("GET", "/hubs/<slug>/events/new"): both(ORGANISERS),
    ("POST", "/hubs/<slug>/events/new"): both(ORGANISERS_REFUSED),
}
