"""Listing pages with 100,000 events and 1,000,000 RSVPs: `make bench` prints
timings and checks that the queries use the listing indexes (a plan, not a
stopwatch, is what is asserted)."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from community import create_app
from community.database import utcnow
from community.extensions import db
from tests.conftest import base_config

pytestmark = [pytest.mark.benchmark, pytest.mark.no_db]

EVENTS = 100_000
RSVPS = 1_000_000
PEOPLE = 20_000


@pytest.fixture(scope="module")
def big_app(tmp_path_factory):
    from flask_migrate import upgrade

    from community.cli import seed_demo, seed_scale

    url = "sqlite:///" + str(tmp_path_factory.mktemp("bench") / "bench.sqlite")
    app = create_app(base_config(url))
    with app.app_context():
        upgrade()
        seed_demo("benchmark-password")
        db.session.commit()
        started = time.perf_counter()
        seed_scale(EVENTS, RSVPS, PEOPLE)
        db.session.commit()
        print(f"\nadded {EVENTS} events, {RSVPS} RSVPs in {time.perf_counter() - started:.1f}s")
    return app


PAGES = ["/", "/events", "/events/{event}", "/events?chapter=uk",
         "/events?language=cmn&mode=online", "/events?page=50", "/hubs", "/hubs/london",
         "/chapters/uk"]


@pytest.mark.parametrize("path", PAGES)
def test_listing_pages_with_100k_events(big_app, path):
    client = big_app.test_client()
    if "{event}" in path:
        with big_app.app_context():
            path = path.format(event=db.session.scalar(sa.text(
                "SELECT public_id FROM events WHERE status = 'published' AND audience = 'public'"
                " AND capacity IS NOT NULL ORDER BY id LIMIT 1")))
    assert client.get(path).status_code == 200  # warm up
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        response = client.get(path)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    timings.sort()
    print(f"\n{path}: median {timings[2] * 1000:.0f} ms, best {timings[0] * 1000:.0f} ms")


def test_upcoming_listing_uses_an_index(big_app):
    with big_app.app_context():
        plan = db.session.execute(sa.text(
            "EXPLAIN QUERY PLAN SELECT id FROM events WHERE status = 'published' "
            "AND audience = 'public' AND ends_at >= :now ORDER BY starts_at LIMIT 20"
        ), {"now": utcnow().replace(tzinfo=None)}).all()
        text = " ".join(str(row[-1]) for row in plan)
        print("\nplan:", text)
        assert "USING INDEX ix_events_listing" in text or "USING INDEX ix_events_hub" in text
        hub_plan = " ".join(str(r[-1]) for r in db.session.execute(sa.text(
            "EXPLAIN QUERY PLAN SELECT id FROM events WHERE hub_id = 1 AND status = 'published'"
            " ORDER BY starts_at LIMIT 20")).all())
        assert "ix_events_hub_listing" in hub_plan
