"""Shared fixtures: one migrated database per run, one rolled-back transaction per test.

The suite runs on SQLite; with TEST_DATABASE_URL set it runs on PostgreSQL.
"""

from __future__ import annotations

import contextvars
import os
import re

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import scoped_session, sessionmaker

from community import create_app
from community.encryption import blind_index
from community.extensions import db, limiter

TEST_SECRET = "test-secret-key-that-is-long-enough-for-harbour"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def normalise_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def base_config(database_url: str) -> dict:
    return {
        "HARBOUR_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "TRUSTED_HOSTS": ["localhost", "127.0.0.1"],
        "BASE_URL": "https://harbour.test",
        "RATELIMIT_STORAGE_URI": "memory://",
        # Cheap hashes keep the suite fast; R11's test checks the real defaults.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 8,
        "ARGON2_PARALLELISM": 1,
        "MAIL_BACKEND": "outbox-only",
        # Tasks wait in memory until a test runs them (run_jobs).
        "HUEY_STORAGE": "memory",
        # Pages are built anew for every request (statement counts); tests of the page
        # cache turn it on (tests/functional/test_page_cache.py).
        "CACHE_TYPE": "NullCache",
        "CACHE_NO_NULL_WARNING": True,
    }


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()



def postgres_database(base_url: str, name: str, *, drop: bool = False) -> str:
    """A database ``name`` on the suite's PostgreSQL server, created empty (or
    dropped), so a test's committed rows never reach the suite's database."""
    url = sa.engine.make_url(normalise_url(base_url))
    engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False).replace(
        "postgresql+psycopg://", "postgresql://")

@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        url = normalise_url(url)
        reset_postgres(url)
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "harbour-test.sqlite")


class IsolatedClient(FlaskClient):
    """Each request runs in an empty context, so it gets its own application
    context (and ``g``) as in production, not the test's."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def app(database_url):
    from flask_migrate import upgrade

    app = create_app(base_config(database_url))
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def db_session(request, app):
    """Run each test inside a transaction that is rolled back afterwards.

    Sessions made during the test (the test's own and each request's) are bound
    to one connection and turn their commits into savepoints.
    """
    if "no_db" in request.keywords:
        yield None
        return
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        factory = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        db.session = scoped_session(factory, scopefunc=original.registry.scopefunc)
        reset_limiter()
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


# Under `make test-anytime` the suite runs inside libfaketime. Child processes
# (gunicorn, nginx, workers, pip) keep the real clock: their own sleeps fail
# with EINVAL under it.
FAKETIME_VARIABLES = ("LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC")


def real_clock_env(env: dict) -> dict:
    """``env`` for a child process, without the fake clock and the test database."""
    return {key: value for key, value in env.items()
            if key not in (*FAKETIME_VARIABLES, "TEST_DATABASE_URL")}


def wait_for_exit(process, timeout: float) -> int:
    """``Popen.wait(timeout)`` without its polling ``time.sleep``, which fails
    under libfaketime; raises subprocess.TimeoutExpired as it does."""
    import subprocess
    import threading
    import time

    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while process.poll() is None:
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(process.args, timeout)
        pause.wait(0.05)
    return process.returncode


def run_process(args: list, *, timeout: float, **kwargs):
    """``subprocess.run(args, capture_output=True, text=True, timeout=…)`` that
    also works under libfaketime: a timer kills a child that overruns, where
    ``subprocess.run`` would poll with ``time.sleep``. The child keeps the real
    clock unless ``env`` says otherwise."""
    import os
    import subprocess
    import threading

    kwargs.setdefault("env", real_clock_env(dict(os.environ)))
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # noqa: S603
                          text=True, **kwargs) as process:
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            stdout, stderr = process.communicate()
        finally:
            timer.cancel()
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def reset_limiter() -> None:
    """Forget every rate-limit counter between tests.

    The in-memory storage expires keys on a timer thread that walks its dicts;
    clearing them while it runs raised KeyError in that thread (seen once, under
    load), which pytest reports against whatever test is running. Stop the
    timer first, then clear.
    """
    timer = getattr(limiter.storage, "timer", None)
    if timer is not None:
        timer.cancel()
        timer.join()
    limiter.reset()


@pytest.fixture(autouse=True)
def empty_job_queue(app):
    from community.jobs import jobs

    jobs(app).huey.flush()
    yield
    jobs(app).huey.flush()


def run_jobs(app=None, names: tuple[str, ...] | None = None) -> int:
    """Run the tasks waiting on the (in-memory) queue, as a worker would; tasks
    they enqueue run too. Returns how many ran."""
    from flask import current_app

    from community.jobs import jobs

    huey = jobs(app or current_app).huey
    ran = 0
    while (task := huey.dequeue()) is not None:
        if names is None or task.name in names:
            huey.execute(task)
            ran += 1
    return ran


def run_fan_outs() -> int:
    """Write the emails of every publication not yet fanned out (the worker's job)."""
    from community.notifications import fan_out, pending_publications

    return sum(fan_out(pid) for pid in pending_publications())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(response) -> str:
    """The CSRF token from a rendered form, as a browser would submit it."""
    match = CSRF_FIELD.search(response.get_data(as_text=True))
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client, email: str, password: str = "correct horse battery staple",
            remember: bool = False, follow: bool = False):
    """Sign in through the real form, as a browser would."""
    page = client.get("/sign-in")
    data = {"csrf_token": csrf_token(page), "email": email, "password": password}
    if remember:
        data["remember"] = "y"
    return client.post("/sign-in", data=data, follow_redirects=follow)


def post_form(client, url: str, data: dict | None = None, page_url: str | None = None,
              **kwargs):
    """POST ``data`` with a CSRF token taken from ``page_url`` (default: the home page)."""
    page = client.get(page_url or "/")
    return client.post(url, data={"csrf_token": csrf_token(page), **(data or {})}, **kwargs)


def outbox(to: str | None = None) -> list:
    """Emails waiting in the outbox, oldest first."""
    from sqlalchemy import select

    from community.outbox_models import OutboxEmail

    stmt = select(OutboxEmail).order_by(OutboxEmail.id)
    if to is not None:
        stmt = stmt.where(OutboxEmail.to_index == blind_index(to))
    return list(db.session.scalars(stmt))


def link_in(email, path_prefix: str) -> str:
    """The site-relative path of the first link in an email starting with ``path_prefix``."""
    match = re.search(r"https://harbour\.test(" + re.escape(path_prefix) + r"[^\s<\"]*)",
                      email.body_text)
    assert match, f"no {path_prefix} link in: {email.body_text}"
    return match.group(1)


def login_as(client, user, *, reauthenticated: bool = True):
    """Sign ``user`` in without the forms (for matrices): a real server-side session."""
    import secrets

    from community.auth.models import UserSession
    from community.auth.sessions import SESSION_KEY, hash_token
    from community.database import utcnow

    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(UserSession(user=user, token_hash=hash_token(token), device_label="test",
                               last_seen_at=now,
                               reauthenticated_at=now if reauthenticated else None))
    db.session.flush()
    with client.session_transaction() as session:
        session[SESSION_KEY] = token
    return client
