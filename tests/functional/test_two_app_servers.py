"""Two app servers, as a community scales out: two gunicorn instances on
different ports, one PostgreSQL database and one Redis for the rate limits.
A session made on one is honoured on the other, signing out on one signs out
on both, failed passwords count across both, and seats are never oversold by
answers arriving at both at once.

PostgreSQL and Redis only: it skips, saying why, when TEST_DATABASE_URL is
unset or Redis does not answer (CI sets and starts both).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from community.auth.throttle import ACCOUNT_FAILURES
from tests.conftest import normalise_url, postgres_database, real_clock_env, wait_for_exit
from tests.functional.test_behind_nginx import Client
from tests.functional.test_live_concurrency import PASSWORD, _free_port

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[2]
COOKIE = "harbour_session"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
CAPACITY = 3
RSVPS = 10


def _needs_postgres_and_redis() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("two app servers share one database: needs TEST_DATABASE_URL "
                    "(PostgreSQL); CI sets it")
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as error:  # noqa: BLE001 (any failure to reach Redis)
        pytest.skip(f"two app servers share their rate limits in Redis, and {REDIS_URL} "
                    f"did not answer ({type(error).__name__}); CI starts it")
    return url



def _seed(database_url: str, tag: str) -> dict:
    """A migrated database with members who have known passwords and one event
    with few seats, committed."""
    from flask_migrate import upgrade

    from community import create_app
    from community.extensions import db
    from community.factories import make_event, make_hub, make_membership, make_user
    from tests.conftest import base_config

    app = create_app(base_config(normalise_url(database_url)))
    with app.app_context():
        upgrade()
        hub = make_hub(slug=f"two-servers-{tag}")
        event = make_event(hub, capacity=CAPACITY,
                           starts_at=datetime(2099, 6, 1, 18, 0, tzinfo=UTC))
        emails = [f"two{n}-{tag}@servers.example" for n in range(RSVPS + 2)]
        for email in emails:
            make_membership(make_user(email, password=PASSWORD), hub)
        db.session.commit()
        seeded = {"event": event.public_id, "emails": emails}
        db.engine.dispose()
    return seeded


def _start(port: int, database_url: str, secret: str, tmp: Path) -> tuple[subprocess.Popen, Path]:
    env = real_clock_env({
        **os.environ,
        "DATABASE_URL": database_url,
        "FLASK_HARBOUR_ENV": "testing",
        "FLASK_SECRET_KEY": secret,
        "FLASK_TRUSTED_HOSTS": '["127.0.0.1"]',
        "FLASK_BASE_URL": "http://127.0.0.1",
        "FLASK_SESSION_COOKIE_SECURE": "false",
        "FLASK_SESSION_COOKIE_NAME": COOKIE,
        "FLASK_MAIL_BACKEND": "outbox-only",
        "FLASK_RATELIMIT_STORAGE_URI": REDIS_URL,
        "FLASK_HUEY_REDIS_URL": REDIS_URL,
        "FLASK_HUEY_NAME": f"harbour-two-servers-{secret[:8]}",
        "FLASK_ARGON2_TIME_COST": "1",
        "FLASK_ARGON2_MEMORY_COST": "8",
        "FLASK_ARGON2_PARALLELISM": "1",
    })
    log = tmp / f"gunicorn-{port}.log"
    server = subprocess.Popen(  # noqa: S603 (our own gunicorn, fixed arguments)
        [str(Path(sys.executable).with_name("gunicorn")), "-c", str(ROOT / "deploy" /
         "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "wsgi:app"],
        env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=log.open("wb"))
    return server, log


def _wait_until_up(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if Client(port, "127.0.0.1").request("GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"gunicorn did not start:\n{log.read_text()}"
        threading.Event().wait(0.2)  # not time.sleep: see test_live_concurrency


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[dict]:
    suite_url = _needs_postgres_and_redis()
    tmp = Path(tmp_path_factory.mktemp("two-servers"))
    tag = secrets.token_hex(4)
    database = f"harbour_two_servers_{tag}"
    database_url = postgres_database(suite_url, database)
    # A key of its own: the throttle's keys (HMACs under it) are this run's alone
    # in the shared Redis.
    secret = f"two-servers-{secrets.token_urlsafe(32)}"
    started = []
    try:
        seeded = _seed(database_url, tag)
        ports = [_free_port(), _free_port()]
        started = [_start(port, database_url, secret, tmp) for port in ports]
        for port, (server, log) in zip(ports, started, strict=True):
            _wait_until_up(port, server, log)
        yield {**seeded, "a": ports[0], "b": ports[1], "database_url": database_url}
    finally:
        for server, log in started:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                wait_for_exit(server, 60)
            print(log.read_text()[-3000:])
        postgres_database(suite_url, database, drop=True)


def _signed_in_status(port: int, cookie: str) -> str:
    client = Client(port, "127.0.0.1")
    client.cookie = cookie
    status, headers, _page = client.request("GET", "/dashboard")
    if status == 200:
        return "in"
    assert status == 302 and "/sign-in" in headers["Location"], status
    return "out"


def _sign_in(port: int, email: str) -> str:
    """The session cookie of a fresh sign-in on the server at ``port``."""
    client = Client(port, "127.0.0.1")
    status, _headers, page = client.request("GET", "/sign-in")
    assert status == 200
    token = CSRF_FIELD.search(page).group(1)
    status, headers, _page = client.request(
        "POST", "/sign-in", {"csrf_token": token, "email": email, "password": PASSWORD})
    assert status == 302 and "/sign-in" not in headers["Location"], status
    return client.cookie


def test_a_session_made_on_one_server_works_on_the_other(servers):
    cookie = _sign_in(servers["a"], servers["emails"][0])
    assert _signed_in_status(servers["b"], cookie) == "in"
    assert _signed_in_status(servers["a"], cookie) == "in"


def test_signing_out_everywhere_on_one_server_is_honoured_by_the_other(servers):
    email = servers["emails"][1]
    laptop = _sign_in(servers["a"], email)
    phone = _sign_in(servers["b"], email)
    other_phone = _sign_in(servers["b"], email)
    assert _signed_in_status(servers["b"], phone) == "in"

    client = Client(servers["a"], "127.0.0.1")
    client.cookie = laptop
    status, _headers, page = client.request("GET", "/account/security")
    assert status == 200
    token = CSRF_FIELD.search(page).group(1)
    status, _headers, _page = client.request("POST", "/account/sessions/revoke-others",
                                             {"csrf_token": token})
    assert status == 302

    assert _signed_in_status(servers["b"], phone) == "out"
    assert _signed_in_status(servers["b"], other_phone) == "out"
    assert _signed_in_status(servers["b"], laptop) == "in"


def test_failed_passwords_on_both_servers_count_together(servers):
    email = servers["emails"][-1]
    a, b = Client(servers["a"], "127.0.0.1"), Client(servers["b"], "127.0.0.1")
    limit = ACCOUNT_FAILURES.amount
    results = [(a if n % 2 else b).sign_in(email, "not the password, again")
               for n in range(limit)]
    assert results == ["refused"] * limit
    # Each server saw half of them, yet both now refuse even the right password.
    assert a.sign_in(email, PASSWORD) == "throttled"
    assert b.sign_in(email, PASSWORD) == "throttled"


def test_answers_at_both_servers_never_take_more_seats_than_there_are(servers):
    event = servers["event"]
    people = servers["emails"][:RSVPS]
    ports = [servers["a"] if n % 2 else servers["b"] for n in range(RSVPS)]
    clients = []
    for port, email in zip(ports, people, strict=True):
        client = Client(port, "127.0.0.1")
        client.cookie = _sign_in(port, email)
        status, _headers, page = client.request("GET", f"/events/{event}")
        assert status == 200
        clients.append((client, CSRF_FIELD.findall(page)[-1]))
    barrier = threading.Barrier(RSVPS)

    def answer(pair) -> int:
        client, token = pair
        barrier.wait(timeout=30)
        return client.request("POST", f"/events/{event}/rsvp",
                              {"csrf_token": token, "guests": "0"})[0]

    with ThreadPoolExecutor(max_workers=RSVPS) as pool:
        statuses = list(pool.map(answer, clients))

    assert statuses == [302] * RSVPS
    engine = sa.create_engine(normalise_url(servers["database_url"]))
    with engine.connect() as conn:
        counts = dict(conn.execute(sa.text(
            "SELECT rsvps.status, count(*) FROM rsvps JOIN events ON events.id = rsvps.event_id"
            " WHERE events.public_id = :event GROUP BY rsvps.status"), {"event": event}).all())
    engine.dispose()
    assert counts.get("going", 0) == CAPACITY, counts
    assert sum(counts.values()) == RSVPS, counts
