"""Permission matrix entries for a hub's feeds and subscribable calendar.

Roles in order: visitor, unverified, other_member, pending, member, organiser,
lead, coordinator, admin. Feeds are public documents: a listed hub's feeds are
open to everyone, and an unlisted hub has none, not even for its members (R4).
"""

PUBLIC = [200] * 9
NONE = [404] * 9

MATRIX = {
    ("GET", "/hubs/<slug>/updates.atom"): {"listed": PUBLIC, "unlisted": NONE},
    ("GET", "/hubs/<slug>/events.atom"): {"listed": PUBLIC, "unlisted": NONE},
    ("GET", "/hubs/<slug>/events.ics"): {"listed": PUBLIC, "unlisted": NONE},
}
