"""People acting at the same moment on the embedded default: gunicorn with four
worker processes on one SQLite file, driven over real HTTP by many threads.

Before one transaction per request, 30 sign-ins six at a time gave dozens of
500s ("database is locked"), and 50 members idle for over a minute pressing
"Withdraw my answer" at once gave 38 of them. Here every answer must be the
one a person expects, and none a 5xx.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from community.encryption import keyring_for_testing
from tests.conftest import TEST_SECRET, base_config, real_clock_env, wait_for_exit

pytestmark = pytest.mark.no_db

PASSWORD = "correct horse battery staple"  # noqa: S105 (test data)
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
COOKIE = "harbour_session"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """One person's cookie jar over plain HTTP/1.1, as a browser without JavaScript."""

    def __init__(self, port: int):
        self.port = port
        self.cookie = ""

    def request(self, method: str, path: str, form: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Host": "127.0.0.1", "User-Agent": "Mozilla/5.0 (X11; Linux) Firefox/140.0"}
        body = None
        if self.cookie:
            headers["Cookie"] = f"{COOKIE}={self.cookie}"
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie(header)
            if COOKIE in jar:
                self.cookie = jar[COOKIE].value
        conn.close()
        return response.status, response.headers, text

    def token(self, path: str) -> str:
        status, _headers, page = self.request("GET", path)
        assert status == 200, (path, status)
        match = CSRF_FIELD.search(page)
        assert match, f"no form on {path}"
        return match.group(1)

    def sign_in(self, email: str) -> int:
        token = self.token("/sign-in")
        status, headers, _page = self.request(
            "POST", "/sign-in", {"csrf_token": token, "email": email, "password": PASSWORD})
        if status == 302:
            assert "/sign-in" not in headers["Location"], "the sign-in was refused"
        return status


def _seed(path: Path, people: int, *, capacity: int, going: bool) -> tuple[str, list[str]]:
    """A migrated SQLite file with ``people`` members and one event; returns
    the event's public id and the members' emails."""
    from flask_migrate import upgrade

    from community import create_app
    from community.events.models import RsvpStatus
    from community.extensions import db
    from community.factories import make_event, make_hub, make_rsvp, make_user

    app = create_app(base_config(f"sqlite:///{path}"))
    with app.app_context():
        upgrade()
        # Far ahead of both the test's clock and the server's, which differ
        # under `make test-anytime` (the server runs on the real clock).
        event = make_event(make_hub(slug="live-hub"), capacity=capacity,
                           starts_at=datetime(2099, 6, 1, 18, 0, tzinfo=UTC))
        emails = [f"live{n}@live.example" for n in range(people)]
        for email in emails:
            user = make_user(email, password=PASSWORD)
            if going:
                make_rsvp(event, user, RsvpStatus.GOING)
        db.session.commit()
        event_id = event.public_id
        db.engine.dispose()
    return event_id, emails


def _serve(path: Path) -> tuple[subprocess.Popen, int, Path]:
    """gunicorn with four workers on the SQLite file, in a process group of
    its own; returns once it answers."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{path}",
        "FLASK_HARBOUR_ENV": "testing",
        "FLASK_SECRET_KEY": TEST_SECRET,
        "FLASK_TRUSTED_HOSTS": '["127.0.0.1"]',
        "FLASK_BASE_URL": f"http://127.0.0.1:{port}",
        "FLASK_SESSION_COOKIE_SECURE": "false",
        "FLASK_SESSION_COOKIE_NAME": COOKIE,
        "FLASK_MAIL_BACKEND": "outbox-only",
        # Cheap hashes keep the run short; the write lock is what is under test.
        "FLASK_ARGON2_TIME_COST": "1",
        "FLASK_ARGON2_MEMORY_COST": "8",
        "FLASK_ARGON2_PARALLELISM": "1",
    }
    env = real_clock_env(env)  # children keep the real clock (make test-anytime)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log = path.with_name(f"gunicorn-{port}.log")
    server = subprocess.Popen(  # noqa: S603 (our own gunicorn, fixed arguments)
        [str(gunicorn), "--workers", "4", "--bind", f"127.0.0.1:{port}",
         "--timeout", "90", "--log-level", "warning", "community:create_app()"],
        env=env, cwd=Path(__file__).resolve().parents[2], start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if Browser(port).request("GET", "/sign-in")[0] == 200:
                return server, port, log
        except OSError:
            pass
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "gunicorn did not start"
        # Not time.sleep: under `make test-anytime` libfaketime's clock_nanosleep
        # fails with EINVAL; a condition wait is unaffected.
        threading.Event().wait(0.2)


def _stop(server: subprocess.Popen, log: Path) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        wait_for_exit(server, 60)
    # Shown with a failing test: what the server said (errors only).
    print(log.read_text())


@pytest.fixture(scope="module")
def harbour(tmp_path_factory) -> Iterator[dict]:
    """50 members going to one event, served by gunicorn with four workers."""
    path = Path(tmp_path_factory.mktemp("live")) / "harbour.sqlite"
    event_id, emails = _seed(path, 50, capacity=100, going=True)
    server, port, log = _serve(path)
    try:
        yield {"port": port, "url": f"sqlite:///{path}", "emails": emails, "event": event_id}
    finally:
        _stop(server, log)


def test_thirty_sign_ins_six_at_a_time_all_succeed(harbour):
    emails = harbour["emails"][:30]
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda email: Browser(harbour["port"]).sign_in(email), emails))
    assert statuses == [302] * 30


def test_fifty_idle_members_withdrawing_at_once_all_succeed(harbour):
    port, event = harbour["port"], harbour["event"]
    people = [Browser(port) for _ in harbour["emails"]]
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert set(pool.map(lambda pair: pair[0].sign_in(pair[1]),
                            zip(people, harbour["emails"], strict=True))) == {302}
        tokens = list(pool.map(lambda person: person.token(f"/events/{event}"), people))

    # Everyone has been idle for over a minute, so each request also marks the
    # session as seen: a second write riding on the withdrawal.
    engine = sa.create_engine(harbour["url"])
    with engine.begin() as conn:
        seen = conn.execute(sa.text("SELECT max(last_seen_at) FROM user_sessions")).scalar_one()
        conn.execute(sa.text("UPDATE user_sessions SET last_seen_at = :then"),
                     {"then": _minus(seen, timedelta(minutes=2))})

    barrier = threading.Barrier(len(people))

    def withdraw(pair) -> tuple[int, str]:
        person, token = pair
        barrier.wait(timeout=30)
        status, headers, _page = person.request(
            "POST", f"/events/{event}/withdraw", {"csrf_token": token})
        return status, headers.get("Location", "")

    with ThreadPoolExecutor(max_workers=len(people)) as pool:
        answers = list(pool.map(withdraw, zip(people, tokens, strict=True)))

    assert [status for status, _ in answers] == [302] * len(people)
    assert all(location.endswith(f"/events/{event}") for _, location in answers)
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM rsvps")).scalar_one()
        seen_now = conn.execute(sa.text(
            "SELECT count(*) FROM user_sessions WHERE last_seen_at > :seen"), {"seen": seen},
        ).scalar_one()
    engine.dispose()
    assert left == 0
    # The touch waited for its turn rather than failing the page; a busy
    # database may skip a few, never all of them.
    assert seen_now > 0


def _minus(value, delta):
    parsed = datetime.fromisoformat(str(value))
    return (parsed - delta).isoformat(sep=" ")


def test_nothing_acknowledged_is_lost_when_the_server_is_killed(tmp_path):
    """kill -9 of gunicorn and all its workers while RSVPs are arriving: every
    answer the server acknowledged is in the database, seats are not
    overbooked, the file is intact and a new server carries on."""
    path = tmp_path / "harbour.sqlite"
    event, emails = _seed(path, 24, capacity=10, going=False)
    server, port, log = _serve(path)
    people = [Browser(port) for _ in emails]
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert set(pool.map(lambda pair: pair[0].sign_in(pair[1]),
                            zip(people, emails, strict=True))) == {302}
        tokens = list(pool.map(lambda person: person.token(f"/events/{event}"), people))

    acknowledged: list[str] = []
    enough = threading.Event()
    record = threading.Lock()

    def answer(pair) -> None:
        person, token, email = pair
        try:
            status, _headers, _page = person.request(
                "POST", f"/events/{event}/rsvp", {"csrf_token": token, "guests": "0"})
        except OSError:
            return  # cut off by the kill: not acknowledged, may or may not be kept
        if status == 302:
            with record:
                acknowledged.append(email)
                if len(acknowledged) >= 8:
                    enough.set()

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(answer, triple)
                   for triple in zip(people, tokens, emails, strict=True)]
        assert enough.wait(timeout=60), "no answers were acknowledged"
        os.killpg(server.pid, signal.SIGKILL)
        wait_for_exit(server, 60)
        for future in futures:
            future.result()

    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA integrity_check")).scalar_one() == "ok"
        # Addresses are encrypted: match them through the blind index (R40).
        kept = set(conn.execute(sa.text(
            "SELECT users.email_index FROM rsvps JOIN users ON users.id = rsvps.user_id"))
            .scalars())
        going = conn.execute(sa.text(
            "SELECT count(*) FROM rsvps WHERE status = 'going'")).scalar_one()
    engine.dispose()
    assert len(acknowledged) >= 8
    assert {keyring_for_testing().blind_index(email) for email in acknowledged} <= kept
    assert going <= 10

    # A new server on the same file carries on where the old one stopped.
    server, port, log = _serve(path)
    try:
        status, _headers, page = Browser(port).request("GET", f"/events/{event}")
        assert status == 200
    finally:
        _stop(server, log)
