"""Capacity is never exceeded, even when many people answer at the same moment."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select

from community import create_app
from community.auth.models import User
from community.database import write_transaction
from community.events import services
from community.events.models import Event, Rsvp, RsvpStatus
from community.extensions import db
from community.factories import make_event, make_hub, make_user
from community.hubs.models import Chapter, Hub
from tests.conftest import base_config

pytestmark = pytest.mark.no_db

PEOPLE = 12
CAPACITY = 5


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


def test_concurrent_rsvps_never_overbook(committed_world, database_url):
    event_id, user_ids, _hub, _chapter = committed_world
    app = create_app(base_config(database_url))
    barrier = threading.Barrier(PEOPLE)
    errors: list[BaseException] = []

    def answer(user_id: int) -> None:
        with app.test_request_context("/"):
            try:
                event = db.session.get(Event, event_id)
                user = db.session.get(User, user_id)
                barrier.wait(timeout=10)
                # As the RSVP route does it.
                with write_transaction(db.session):
                    services.rsvp(event, user)
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
    assert errors == []
    with app.app_context():
        counts = dict(db.session.execute(
            select(Rsvp.status, func.count()).where(Rsvp.event_id == event_id)
            .group_by(Rsvp.status)).all())
        db.engine.dispose()
    assert counts.get(RsvpStatus.GOING) == CAPACITY
    assert counts.get(RsvpStatus.WAITLISTED) == PEOPLE - CAPACITY
