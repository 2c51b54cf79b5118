"""Harbour behind Debian's nginx, as deployed: the rate limits follow each
client, not the proxy, and a client cannot choose its own key.

The test writes an nginx config into its tmp folder (with deploy/'s proxy
headers and access-log format) in front of gunicorn started with
deploy/gunicorn.conf.py and FLASK_TRUSTED_PROXY_HOPS=1. Clients connect
from different loopback addresses (127.0.0.2, 127.0.0.3). Without nginx the
test fails; it never skips.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest

from community.auth.throttle import ACCOUNT_FAILURES, CLIENT_FAILURES
from tests.conftest import TEST_SECRET, real_clock_env
from tests.functional.test_live_concurrency import PASSWORD, _free_port, _seed

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COOKIE = "harbour_session"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
ATTACKER, VICTIM = "127.0.0.2", "127.0.0.3"


class Client:
    """One person at one loopback address, with a cookie jar."""

    def __init__(self, port: int, source: str):
        self.port, self.source, self.cookie = port, source, ""

    def request(self, method: str, path: str, form: dict | None = None,
                headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60,
                                          source_address=(self.source, 0))
        sent = {"Host": "127.0.0.1", **(headers or {})}
        if self.cookie:
            sent["Cookie"] = f"{COOKIE}={self.cookie}"
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie(header)
            if COOKIE in jar:
                self.cookie = jar[COOKIE].value
        conn.close()
        return response.status, response.headers, text

    def sign_in(self, email: str, password: str, headers: dict | None = None) -> str:
        """"in", "refused" or "throttled"."""
        status, _h, page = self.request("GET", "/sign-in", headers=headers)
        if status == 302:  # still signed in from before: sign-in page redirects
            self.cookie = ""
            status, _h, page = self.request("GET", "/sign-in", headers=headers)
        assert status == 200, status
        token = CSRF_FIELD.search(page).group(1)
        status, response_headers, _page = self.request(
            "POST", "/sign-in", {"csrf_token": token, "email": email, "password": password},
            headers=headers)
        if status == 429:
            return "throttled"
        if status == 302 and "/sign-in" not in response_headers["Location"]:
            self.cookie = ""
            return "in"
        assert status == 200, status
        return "refused"


def _wait(check, process: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        assert process.poll() is None, f"{what} stopped:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"{what} did not start:\n{log.read_text()}"
        threading.Event().wait(0.2)  # not time.sleep: see test_live_concurrency


def _nginx_binary() -> str:
    path = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail("Debian's nginx is needed for this test: apt-get install nginx "
                    "(.ci/run installs it; the system service need not run).")
    return path


def _nginx_conf(tmp: Path, listen: int, upstream: int) -> Path:
    site = (DEPLOY / "nginx" / "harbour.conf").read_text()
    log_format = re.search(r"^log_format harbour_private [^;]+;", site, re.M).group(0)
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    {log_format}
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    proxy_max_temp_file_size 0;
    server {{
        listen 127.0.0.1:{listen};
        server_tokens off;
        access_log {tmp}/access.log harbour_private;
        location / {{
            include {DEPLOY}/nginx/harbour-proxy.conf;
            proxy_pass http://127.0.0.1:{upstream};
        }}
    }}
}}
""")
    return conf


@pytest.fixture(scope="module")
def proxied(tmp_path_factory) -> Iterator[dict]:
    nginx = _nginx_binary()
    tmp = Path(tmp_path_factory.mktemp("nginx"))
    accounts = CLIENT_FAILURES.amount // ACCOUNT_FAILURES.amount + 2
    _event, emails = _seed(tmp / "harbour.sqlite", accounts, capacity=10, going=False)

    app_port, proxy_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'harbour.sqlite'}",
        "FLASK_HARBOUR_ENV": "testing",
        "FLASK_SECRET_KEY": TEST_SECRET,
        "FLASK_TRUSTED_HOSTS": '["127.0.0.1"]',
        "FLASK_BASE_URL": "http://127.0.0.1",
        "FLASK_SESSION_COOKIE_SECURE": "false",
        "FLASK_SESSION_COOKIE_NAME": COOKIE,
        "FLASK_MAIL_BACKEND": "outbox-only",
        "FLASK_TRUSTED_PROXY_HOPS": "1",
        "FLASK_ARGON2_TIME_COST": "1",
        "FLASK_ARGON2_MEMORY_COST": "8",
        "FLASK_ARGON2_PARALLELISM": "1",
    }
    env = real_clock_env(env)  # children keep the real clock (make test-anytime)
    # One worker: the limits live in its memory (production shares them in Redis).
    app_log = tmp / "gunicorn.log"
    gunicorn = subprocess.Popen(  # noqa: S603 (our own gunicorn, fixed arguments)
        [str(Path(sys.executable).with_name("gunicorn")), "-c", str(DEPLOY / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{app_port}", "--workers", "1", "wsgi:app"],
        env=env, cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=app_log.open("wb"),
    )
    nginx_log = tmp / "nginx-stderr.log"
    proxy = None
    try:
        _wait(lambda: Client(app_port, "127.0.0.1").request("GET", "/healthz")[0] == 200,
              gunicorn, app_log, "gunicorn")
        conf = _nginx_conf(tmp, proxy_port, app_port)
        proxy = subprocess.Popen(  # noqa: S603 (Debian's nginx, our config)
            [nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "nginx-error.log"),
             "-g", "daemon off;"],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=nginx_log.open("wb"),
        )
        _wait(lambda: Client(proxy_port, "127.0.0.1").request("GET", "/healthz")[0] == 200,
              proxy, nginx_log, "nginx")
        yield {"port": proxy_port, "emails": emails, "tmp": tmp, "app_log": app_log}
    finally:
        for process in (proxy, gunicorn):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait()


def test_one_clients_failures_do_not_lock_out_another_nor_can_it_choose_its_key(proxied):
    port, emails = proxied["port"], proxied["emails"]
    attacker, victim = Client(port, ATTACKER), Client(port, VICTIM)
    per_account = ACCOUNT_FAILURES.amount
    # The attacker spends the per-client budget, spread over accounts so no
    # account limit is what stops it.
    results = [attacker.sign_in(emails[n // per_account], "wrong password, again and again")
               for n in range(CLIENT_FAILURES.amount)]
    assert results == ["refused"] * CLIENT_FAILURES.amount
    fresh, other = emails[-2], emails[-1]
    assert attacker.sign_in(fresh, PASSWORD) == "throttled"

    # Another person, behind the same proxy, signs in at once.
    assert victim.sign_in(fresh, PASSWORD) == "in"

    # A forged X-Forwarded-For does not give the attacker a fresh key.
    for forged in ("198.51.100.7", VICTIM, "198.51.100.7, 203.0.113.9"):
        assert attacker.sign_in(other, PASSWORD, headers={"X-Forwarded-For": forged}) == \
            "throttled", forged
    assert victim.sign_in(other, PASSWORD) == "in"


def test_logs_through_the_proxy_hold_no_client_address(proxied):
    Client(proxied["port"], ATTACKER).request("GET", "/calendar/secret-token-marker.ics?k=x")
    threading.Event().wait(0.5)  # let both servers flush their logs
    access = (proxied["tmp"] / "access.log").read_text()
    assert access.strip(), "nginx wrote no access log"
    app_log = proxied["app_log"].read_text()
    lines = [json.loads(line) for line in app_log.splitlines() if line.strip()]
    assert any(line["logger"] == "gunicorn.access" for line in lines)
    assert any(line.get("security_event") == "throttle.trip" for line in lines)
    for text in (access, app_log):
        assert ATTACKER not in text and VICTIM not in text
        assert "secret-token-marker" not in text, [
            line for line in text.splitlines() if "secret-token-marker" in line]
    assert "/sign-in" not in access  # nginx logs no path at all
