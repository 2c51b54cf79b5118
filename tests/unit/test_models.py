"""Invariants the database itself holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from community.events.models import Event, RsvpStatus
from community.extensions import db
from community.factories import (
    make_chapter,
    make_event,
    make_hub,
    make_membership,
    make_rsvp,
    make_user,
)


def test_one_rsvp_per_person_per_event():
    event, user = make_event(), make_user()
    make_rsvp(event, user)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        make_rsvp(event, user, RsvpStatus.WAITLISTED)


def test_one_membership_per_person_per_hub():
    hub, user = make_hub(), make_user()
    make_membership(user, hub)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        make_membership(user, hub)


def test_slugs_and_emails_are_unique():
    make_hub(slug="london")
    with pytest.raises(IntegrityError), db.session.begin_nested():
        make_hub(slug="london")
    make_chapter("uk")
    with pytest.raises(IntegrityError), db.session.begin_nested():
        make_chapter("uk")
    make_user("same@example.org")
    with pytest.raises(IntegrityError), db.session.begin_nested():
        make_user("same@example.org")


@pytest.mark.parametrize(
    "bad",
    [{"capacity": -1}, {"max_guests": -2}],
)
def test_capacity_and_guests_cannot_be_negative(bad):
    with pytest.raises(IntegrityError), db.session.begin_nested():
        make_event(**bad)


def test_event_cannot_end_before_it_starts():
    start = datetime(2030, 1, 1, 12, tzinfo=UTC)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        make_event(starts_at=start, ends_at=start - timedelta(hours=1))


def test_enum_columns_refuse_unknown_values_in_the_database():
    event = make_event()
    update = sa.text("UPDATE events SET status = :status WHERE id = :id")
    db.session.execute(update, {"status": "cancelled", "id": event.id})
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(update, {"status": "bogus", "id": event.id})


def test_timestamps_come_back_aware_utc():
    event = make_event(starts_at=datetime(2030, 3, 30, 23, 30, tzinfo=UTC))
    db.session.expire_all()
    loaded = db.session.scalar(select(Event).where(Event.id == event.id))
    assert loaded.starts_at.tzinfo is not None
    assert loaded.starts_at == datetime(2030, 3, 30, 23, 30, tzinfo=UTC)
    assert loaded.created_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused():
    with pytest.raises(StatementError), db.session.begin_nested():
        make_event(starts_at=datetime(2030, 1, 1, 12))  # noqa: DTZ001 (the point of the test)


def test_deleting_a_user_removes_their_rsvps_and_memberships():
    from community.events.models import Rsvp
    from community.hubs.models import Membership

    user = make_user()
    event = make_event()
    make_rsvp(event, user)
    make_membership(user, event.hub)
    db.session.delete(user)
    db.session.flush()
    assert db.session.scalars(select(Rsvp)).all() == []
    assert db.session.scalars(select(Membership)).all() == []
