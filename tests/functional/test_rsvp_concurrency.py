"""Capacity is never exceeded, even when many people answer at the same moment,
and the waiting list keeps the order in which answers got the write lock."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select

from community import create_app
from community.auth.models import User
from community.events import services
from community.events.models import Event, Rsvp, RsvpStatus
from community.extensions import db
from community.factories import make_event, make_hub, make_user
from community.hubs.models import Chapter, Hub
from community.transaction import immediate
from tests.conftest import base_config

pytestmark = pytest.mark.no_db

PEOPLE = 50
CAPACITY = 10


@pytest.fixture
def committed_world(app, database_url):
    """Real, committed rows (the per-test rollback would hide them from other threads)."""
    with app.app_context():
        hub = make_hub(slug="race-hub")
        event = make_event(hub, capacity=CAPACITY)
        users = [make_user(f"racer{n}@race.example") for n in range(PEOPLE)]
        db.session.commit()
        ids = (event.id, [u.id for u in users], hub.id, hub.chapter_id)
    yield ids
    event_id, user_ids, hub_id, chapter_id = ids
    with app.app_context():
        db.session.execute(delete(Rsvp).where(Rsvp.event_id == event_id))
        db.session.execute(delete(Event).where(Event.id == event_id))
        db.session.execute(delete(User).where(User.id.in_(user_ids)))
        db.session.execute(delete(Hub).where(Hub.id == hub_id))
        db.session.execute(delete(Chapter).where(Chapter.id == chapter_id))
        db.session.commit()


def test_fifty_concurrent_rsvps_fill_ten_seats_and_queue_the_rest_in_order(
    committed_world, database_url
):
    event_id, user_ids, _hub, _chapter = committed_world
    config = base_config(database_url)
    # One connection per thread, so that every thread reaches the barrier.
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, "pool_size": PEOPLE + 5,
                                           "max_overflow": 0}
    app = create_app(config)
    barrier = threading.Barrier(PEOPLE)
    errors: list[BaseException] = []
    # (user id, status) in the order the decisions were taken. Appended while the
    # thread holds the database write lock (the event row on PostgreSQL, the whole
    # database on SQLite), so list order is lock order.
    decisions: list[tuple[int, RsvpStatus]] = []
    record = threading.Lock()

    def answer(user_id: int) -> None:
        with app.test_request_context("/"):
            try:
                event = db.session.get(Event, event_id)
                user = db.session.get(User, user_id)
                db.session.commit()  # end the reads, as a request that writes never has them
                barrier.wait(timeout=20)
                # As the RSVP request does it: a writer's transaction from the start.
                with immediate():
                    result = services.rsvp(event, user)
                    with record:
                        decisions.append((user_id, result.status))
                    db.session.commit()
            except BaseException as error:  # noqa: BLE001 (reported below)
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=answer, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Every answer was decided: nobody was left waiting (no timed assertion:
    # speed is measured by the benchmark, and libfaketime slows threads tenfold).
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    with app.app_context():
        counts = dict(db.session.execute(
            select(Rsvp.status, func.count()).where(Rsvp.event_id == event_id)
            .group_by(Rsvp.status)).all())
        seats = db.session.scalar(
            select(func.sum(1 + Rsvp.guests))
            .where(Rsvp.event_id == event_id, Rsvp.status == RsvpStatus.GOING))
        going = set(db.session.scalars(select(Rsvp.user_id).where(
            Rsvp.event_id == event_id, Rsvp.status == RsvpStatus.GOING)))
        queue = list(db.session.scalars(
            select(Rsvp.user_id).where(Rsvp.event_id == event_id,
                                       Rsvp.status == RsvpStatus.WAITLISTED)
            .order_by(Rsvp.created_at, Rsvp.id)))
        db.engine.dispose()

    assert counts == {RsvpStatus.GOING: CAPACITY, RsvpStatus.WAITLISTED: PEOPLE - CAPACITY}
    assert seats == CAPACITY
    assert len(decisions) == PEOPLE
    # The first ten to get the lock are going, everyone after them waits ...
    assert [status for _uid, status in decisions] == (
        [RsvpStatus.GOING] * CAPACITY + [RsvpStatus.WAITLISTED] * (PEOPLE - CAPACITY))
    assert going == {uid for uid, _status in decisions[:CAPACITY]}
    # ... and the waiting list (as promotion reads it) is in that same order.
    assert queue == [uid for uid, _status in decisions[CAPACITY:]]
