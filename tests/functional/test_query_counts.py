"""Speed (issue 5): the events list, the hub page and the event page run a fixed
number of SQL statements however many events and RSVPs there are (no N+1)."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event as sa_event

from community.events.models import RsvpStatus
from community.extensions import db
from community.factories import make_event, make_hub, make_membership, make_rsvp, make_user
from tests.conftest import login_as


@contextmanager
def counted():
    """Count the statements sent to the database inside the block."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args, **_kwargs):
        statements.append(statement)

    engine = db.session.get_bind()
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)


def statements_for(client, url: str) -> int:
    with counted() as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(statements)


def grow(hub, events: int, rsvps_on=None, rsvps: int = 0) -> None:
    """More events in ``hub`` and in other hubs, and RSVPs on ``rsvps_on``."""
    for _ in range(events):
        make_event(hub)
        make_event(make_hub())
    for n in range(rsvps):
        make_rsvp(rsvps_on, make_user(), status=RsvpStatus.GOING if n % 2 else
                  RsvpStatus.WAITLISTED)


def test_events_list_and_hub_page_do_not_grow_with_the_data(client):
    hub = make_hub()
    first = make_event(hub)
    few_list = statements_for(client, "/events")
    few_hub = statements_for(client, f"/hubs/{hub.slug}")
    grow(hub, 15, first, 30)
    assert statements_for(client, "/events") == few_list
    assert statements_for(client, f"/hubs/{hub.slug}") == few_hub


def test_event_page_for_a_visitor_does_not_grow_with_the_data(client):
    hub = make_hub()
    event = make_event(hub, capacity=100, max_guests=2)
    few = statements_for(client, f"/events/{event.public_id}")
    grow(hub, 15, event, 30)
    assert statements_for(client, f"/events/{event.public_id}") == few


def test_event_page_for_a_member_with_an_rsvp_does_not_grow_with_the_data(client):
    hub = make_hub()
    event = make_event(hub, capacity=100)
    member = make_user()
    make_membership(member, hub)
    make_rsvp(event, member, status=RsvpStatus.WAITLISTED)
    login_as(client, member)
    url = f"/events/{event.public_id}"
    statements_for(client, url)  # the first request of a session may do one-off work
    few = statements_for(client, url)
    grow(hub, 15, event, 30)
    assert statements_for(client, url) == few
