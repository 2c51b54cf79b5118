"""Listing pages with 100,000 events and 1,000,000 RSVPs: `make bench` prints
timings and checks the plan of every statement each public page sends — no
statement may scan a table that grows with the data (a plan, not a stopwatch,
is what is asserted). Runs on SQLite, and on PostgreSQL too when
TEST_DATABASE_URL is set; the data set is the one `make bench-http` builds and
keeps (.bench/ and the database harbour_bench), built here the first time."""

from __future__ import annotations

import os
import re
import time

import pytest
import sqlalchemy as sa

from community import create_app
from community.extensions import db
from tests.benchmarks import bench_http
from tests.conftest import base_config

pytestmark = [pytest.mark.benchmark, pytest.mark.no_db]

# Tables whose rows grow with use; the others (chapters, hubs) stay small.
GROWING = ("events", "rsvps", "users", "updates", "memberships", "user_sessions")

KINDS = ["sqlite"] + (["pg"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(scope="module", params=KINDS)
def big_app(request):
    started = time.perf_counter()
    url = bench_http.build_harbour(request.param)
    print(f"\n{request.param}: scale data set ready in {time.perf_counter() - started:.0f}s")
    app = create_app(base_config(url))
    yield app
    with app.app_context():
        db.engine.dispose()


PAGES = ["/", "/events", "/events/{event}", "/events?chapter=uk",
         "/events?chapter=uk&language=yue", "/events?language=cmn&mode=online",
         "/events?page=50", "/events?page=50&chapter=uk", "/events?q=community+event+9",
         "/hubs", "/hubs/london", "/chapters/uk", "/hubs/london/events.ics",
         "/chapters/uk/events.ics", "/events.atom", "/hubs/london/events.atom",
         "/chapters/uk/events.atom", "/updates.atom"]


def page_path(app, path: str) -> str:
    if "{event}" in path:
        with app.app_context():
            path = path.format(event=db.session.scalar(sa.text(
                "SELECT public_id FROM events WHERE status = 'published' AND audience = 'public'"
                " AND capacity IS NOT NULL ORDER BY id LIMIT 1")))
    return path


def statements_of(app, path: str) -> list[tuple[str, object]]:
    """Every SELECT the page sends, with its parameters."""
    sent: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert app.test_client().get(path).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return sent


def plan_of(app, statement: str, parameters) -> str:
    with app.app_context():
        conn = db.session.connection()
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            return "\n".join(str(row[-1]) for row in rows)
        rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        return "\n".join(str(row[0]) for row in rows)


def full_scans(plan: str, dialect: str) -> list[str]:
    """Plan lines that read a growing table from end to end."""
    tables = "|".join(GROWING)
    if dialect == "sqlite":
        # "SCAN t" / "SCAN t USING [COVERING] INDEX i": the whole table or index, in order.
        pattern = rf"^\s*SCAN ({tables})\b"
    else:
        pattern = rf"Seq Scan on ({tables})\b"
    return [line for line in plan.splitlines() if re.search(pattern, line.strip())]


@pytest.mark.parametrize("path", PAGES)
def test_no_statement_of_a_public_page_scans_a_growing_table(big_app, path):
    path = page_path(big_app, path)
    client = big_app.test_client()
    assert client.get(path).status_code == 200  # warm up
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        assert client.get(path).status_code == 200
        timings.append(time.perf_counter() - started)
    timings.sort()
    with big_app.app_context():
        dialect = db.engine.dialect.name
    print(f"\n{dialect} {path}: median {timings[2] * 1000:.1f} ms, best {timings[0] * 1000:.1f} ms")
    scans = []
    for statement, parameters in statements_of(big_app, path):
        plan = plan_of(big_app, statement, parameters)
        bad = full_scans(plan, dialect)
        if bad:
            scans.append(f"{statement}\n  -> {bad}\n{plan}")
    assert not scans, "\n\n".join(scans)


def test_upcoming_listing_seeks_the_listing_index(big_app):
    """The main list reads ix_events_listing from the first upcoming event on."""
    statements = statements_of(big_app, "/events")
    listing = [s for s in statements if "ORDER BY events.starts_at" in s[0]]
    assert listing
    plan = plan_of(big_app, *listing[0])
    print("\nplan:", plan)
    assert "ix_events_listing" in plan
    with big_app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert re.search(r"SEARCH \w+ USING (COVERING )?INDEX ix_events_listing \(status=\? "
                             r"AND audience=\? AND starts_at>\?\)", plan), plan
            assert "TEMP B-TREE" not in plan
