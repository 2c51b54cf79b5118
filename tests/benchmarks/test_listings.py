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

# Tables of the data set with at least this many rows: those that grew. A planner
# may rightly read a table of ten rows (chapters, the demo's updates) whole.
GROWN = 10_000

KINDS = ["sqlite"] + (["pg"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(scope="module", params=KINDS)
def big_app(request):
    started = time.perf_counter()
    url = bench_http.build_harbour(request.param)
    print(f"\n{request.param}: scale data set ready in {time.perf_counter() - started:.0f}s")
    # The data set's own keys (bench_http.KEYS), not the testing keys.
    app = create_app({**base_config(url), "HARBOUR_KEY_FILE": str(bench_http.KEYS)})
    yield app
    with app.app_context():
        db.engine.dispose()


PAGES = ["/", "/events", "/events/{event}", "/events?chapter=uk",
         "/events?chapter=uk&language=yue", "/events?language=cmn&mode=online",
         "/events?page=50", "/events?page=50&chapter=uk",
         "/hubs", "/hubs/london", "/chapters/uk", "/hubs/london/events.ics",
         "/chapters/uk/events.ics", "/events.atom", "/hubs/london/events.atom",
         "/chapters/uk/events.atom", "/updates.atom"]


# Title search reads every upcoming event's titles (no text index yet): timed, and
# its plans printed, but not held to the rule.
SEARCH = "/events?q=community+event+9"


def test_title_search_is_timed_and_its_plan_shown(big_app):
    client = big_app.test_client()
    started = time.perf_counter()
    assert client.get(SEARCH).status_code == 200
    print(f"\n{SEARCH}: {(time.perf_counter() - started) * 1000:.1f} ms (known to read "
          "every upcoming event: no text index)")


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


def grown_tables(app) -> list[str]:
    with app.app_context():
        if "grown" not in app.extensions:
            names = sa.inspect(db.engine).get_table_names()
            app.extensions["grown"] = [
                name for name in names
                if db.session.scalar(sa.text(f'SELECT count(*) FROM "{name}"')) >= GROWN]  # noqa: S608
        return app.extensions["grown"]


def full_scans(plan: str, dialect: str, grown: list[str]) -> list[str]:
    """Plan lines that read a grown table from end to end."""
    tables = "|".join(grown)
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
        bad = full_scans(plan, dialect, grown_tables(big_app))
        if bad:
            scans.append(f"{statement}\n  -> {bad}\n{plan}")
    assert grown_tables(big_app), "the scale data set is missing"
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


@pytest.mark.parametrize("path", ["/events.atom", "/chapters/uk/events.atom",
                                  "/hubs/london/events.atom"])
def test_event_feeds_read_the_announced_index_newest_first(big_app, path):
    """Not every upcoming event sorted by announcement: the newest announced first."""
    statements = statements_of(big_app, path)
    feed = [s for s in statements if "ORDER BY events.published_at DESC" in s[0]]
    assert feed
    plan = plan_of(big_app, *feed[0])
    print("\nplan:", plan)
    assert "ix_events_announced" in plan
    assert "TEMP B-TREE" not in plan and " Sort " not in plan
