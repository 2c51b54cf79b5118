"""Rate limits (R14, R37) in memory and in the real Redis of production."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from community import create_app
from community.extensions import db, limiter
from community.factories import make_user
from tests.conftest import base_config, csrf_token, real_clock_env, run_process, sign_in

ADDRESS = "203.0.113.77"


def redis_url() -> str:
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no Redis on 127.0.0.1:6379 (CI starts one)")
    return url


def dump_database() -> str:
    rows = []
    for table in db.metadata.sorted_tables:
        rows += [repr(tuple(row)) for row in db.session.execute(select(table))]
    return "\n".join(rows)


def test_r37_client_address_is_never_stored(client, caplog):
    caplog.set_level(logging.DEBUG)
    make_user("r37@example.org")
    env = {"REMOTE_ADDR": ADDRESS}
    page = client.get("/sign-up", environ_base=env)
    client.post("/sign-up", environ_base=env, data={
        "csrf_token": csrf_token(page), "email": "new37@example.org", "display_name": "N",
        "password": "tangerine lighthouse quietly", "confirm": "tangerine lighthouse quietly",
        "locale": "en"})
    for _ in range(3):
        page = client.get("/sign-in", environ_base=env)
        client.post("/sign-in", environ_base=env, data={
            "csrf_token": csrf_token(page), "email": "r37@example.org", "password": "wrong one!!"})
    page = client.get("/sign-in", environ_base=env)
    client.post("/sign-in", environ_base=env, data={
        "csrf_token": csrf_token(page), "email": "r37@example.org",
        "password": "correct horse battery staple"})
    client.get("/dashboard", environ_base=env)

    assert ADDRESS not in dump_database()
    assert ADDRESS not in caplog.text
    storage = limiter.storage
    keys = " ".join(map(str, getattr(storage, "storage", {}).keys()))
    assert keys, "the limiter should have recorded the failures"
    assert ADDRESS not in keys and "r37@example.org" not in keys


def test_sign_up_form_is_rate_limited_with_a_page_that_says_when(client):
    statuses = []
    for n in range(6):
        page = client.get("/sign-up")
        response = client.post("/sign-up", data={
            "csrf_token": csrf_token(page), "email": f"flood{n}@example.org",
            "display_name": "Flood", "password": "tangerine lighthouse quietly",
            "confirm": "tangerine lighthouse quietly", "locale": "en"})
        statuses.append(response.status_code)
    assert statuses == [302] * 5 + [429]
    body = response.get_data(as_text=True)
    assert "Please try again in" in body and "minutes" in body
    assert int(response.headers["Retry-After"]) > 0


def test_r14_r37_throttling_works_in_redis_without_addresses_or_emails(database_url):
    import redis

    url = redis_url()
    store = redis.Redis.from_url(url)
    store.flushdb()
    app = create_app(base_config(database_url) | {"RATELIMIT_STORAGE_URI": url})
    client = app.test_client()
    statuses = []
    for n in range(11):
        page = client.get("/sign-in")
        response = client.post("/sign-in", environ_base={"REMOTE_ADDR": f"203.0.113.{n}"},
                               data={"csrf_token": csrf_token(page),
                                     "email": "nobody-in-redis@example.org",
                                     "password": f"wrong password {n}"})
        statuses.append(response.status_code)
    assert statuses == [200] * 10 + [429]
    keys = b" ".join(store.keys("*")).decode()
    assert keys
    assert "203.0.113" not in keys and "nobody-in-redis" not in keys
    store.flushdb()
    with app.app_context():
        db.engine.dispose()


def test_sign_in_still_works_for_others_while_one_account_is_throttled(client):
    make_user("calm@example.org")
    for n in range(10):
        page = client.get("/sign-in")
        client.post("/sign-in", data={"csrf_token": csrf_token(page),
                                      "email": "target@example.org", "password": f"x{n}x" * 4})
    assert sign_in(client, "calm@example.org").status_code == 302


SIGN_IN_WITH_LIMITS_OFF = """
import sys
from community import create_app
from community.extensions import db
from community.factories import make_user
from tests.conftest import base_config, csrf_token, real_clock_env, run_process, sign_in

app = create_app(base_config(sys.argv[1]) | {"RATELIMIT_ENABLED": False})
client = app.test_client()
with app.app_context():
    db.create_all()
    make_user("unlimited@example.org")
    db.session.commit()
statuses = [sign_in(client, "unlimited@example.org").status_code]
client = app.test_client()
for n in range(11):
    page = client.get("/sign-in")
    statuses.append(client.post("/sign-in", data={
        "csrf_token": csrf_token(page), "email": "unlimited@example.org",
        "password": f"wrong password {n}"}).status_code)
print(statuses)
"""


def test_r14_sign_in_works_and_stays_throttled_with_rate_limits_switched_off(tmp_path):
    """RATELIMIT_ENABLED=false switches off per-route limits, not brute-force
    protection. A process of its own: the limiter is one object per process."""
    database = f"sqlite:///{tmp_path / 'limits-off.sqlite'}"
    env = real_clock_env(dict(os.environ)) | {"PYTHONPATH": str(Path(__file__).parents[2])}
    result = run_process([sys.executable, "-c", SIGN_IN_WITH_LIMITS_OFF, database],
                         timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == str([302] + [200] * 10 + [429])
