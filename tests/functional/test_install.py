"""The production install path: a wheel of this checkout, installed into a fresh
venv outside it, migrates a database and serves pages with their templates and
Chinese translations (issue 12, point 4).

Installing every dependency from the index takes a minute or two here, so by
default the new venv gets Harbour alone and finds its dependencies through a
.pth line pointing at the running interpreter's site-packages (Harbour itself
is not importable from there: an editable install needs its own .pth files,
which a .pth line does not run). Set HARBOUR_TEST_FULL_INSTALL=1 (CI does) to
install the dependencies from the index as the README says.
"""

from __future__ import annotations

import os
import shutil
import subprocess  # noqa: S404 (runs pip and the installed app, fixed argument lists)
import sys
import sysconfig
from pathlib import Path

import pytest

from community.config import PROJECT_ROOT
from tests.conftest import real_clock_env, run_process

pytestmark = pytest.mark.no_db

SKIP = ("__pycache__", "*.py[co]", "*.mo", ".venv", ".git", "instance", "build", "dist",
        "*.egg-info", ".pytest_cache", ".ruff_cache", ".hypothesis", "*.sqlite*",
        "test-artifacts")

SERVE = """
import community, sys
from community import create_app
app = create_app()
client = app.test_client()
home = client.get("/", headers={"Accept-Language": "zh-HK"})
hubs = client.get("/hubs", headers={"Accept-Language": "en"})
print(community.__file__)
print(home.status_code, hubs.status_code)
sys.stdout.flush()
assert home.status_code == 200 and hubs.status_code == 200
assert 'lang="zh-Hant-HK"' in home.get_data(as_text=True)
print(home.get_data(as_text=True))
"""


def run(args, **kwargs) -> subprocess.CompletedProcess:
    result = run_process(args, timeout=300, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def test_a_wheel_installed_outside_the_checkout_migrates_and_serves_pages(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(PROJECT_ROOT, source, ignore=shutil.ignore_patterns(*SKIP))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
         "--wheel-dir", str(tmp_path / "wheels"), str(source)])
    wheel = next((tmp_path / "wheels").glob("harbour-*.whl"))

    venv = tmp_path / "venv"
    full = os.environ.get("HARBOUR_TEST_FULL_INSTALL") == "1"
    run([sys.executable, "-m", "venv", *([] if full else ["--without-pip"]), str(venv)])
    python = venv / "bin" / "python"
    if full:
        run([str(python), "-m", "pip", "install", "--quiet", str(wheel)])
    else:
        run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
             "--no-deps", str(wheel)])
        site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
        (Path(site.stdout.strip()) / "harbour-test-dependencies.pth").write_text(
            sysconfig.get_path("purelib") + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in real_clock_env(dict(os.environ)).items()
           if not key.startswith(("FLASK_", "PYTHON")) and key != "DATABASE_URL"}
    env.update({
        "FLASK_HARBOUR_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'installed.sqlite'}",
        "FLASK_ARGON2_TIME_COST": "1", "FLASK_ARGON2_MEMORY_COST": "8",
        "FLASK_ARGON2_PARALLELISM": "1",
    })
    flask = [str(python), "-m", "flask", "--app", "community:create_app"]
    run([*flask, "db", "upgrade"], cwd=elsewhere, env=env)
    run([*flask, "seed-demo"], cwd=elsewhere, env=env)
    served = run([str(python), "-c", SERVE], cwd=elsewhere, env=env)

    installed_at, statuses, page = served.stdout.split("\n", 2)
    assert installed_at.startswith(str(venv)), installed_at
    assert statuses == "200 200"
    # The home page drawn from the packaged templates, in the packaged Chinese catalogue.
    assert "倫敦香港人" in page
    assert "<title>首頁" in page


# --- the production guide, as CI follows it ------------------------------------------------

GUIDE_ADMIN = "admin@install.example"
GUIDE_PASSWORD = "a long passphrase for the install test"  # noqa: S105 (test data)


def _with_settings(env_file: Path, *command: str) -> list[str]:
    """``command`` with the settings file loaded, as systemd's EnvironmentFile does."""
    return ["bash", "-c", 'set -a; . "$0"; set +a; exec "$@"', str(env_file), *command]


def _exec_start(unit: Path, prefix: Path) -> list[str]:
    """The unit's ExecStart and WorkingDirectory, with /srv/harbour moved to ``prefix``."""
    import shlex

    text = unit.read_text()
    assert "WorkingDirectory=/srv/harbour\n" in text
    [line] = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart=").replace("/srv/harbour", str(prefix)))


def _http(port: int, method: str, path: str, cookie: str = "", form: dict | None = None):
    import http.client
    from urllib.parse import urlencode

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": "127.0.0.1"}
    if cookie:
        headers["Cookie"] = cookie
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    cookies = [header.split(";", 1)[0] for header in response.headers.get_all("Set-Cookie") or []]
    conn.close()
    return response.status, "; ".join(cookies) or cookie, text


def test_the_production_guide_installs_serves_through_nginx_and_delivers_mail(tmp_path):
    """deploy/install.sh, as the README's production guide runs it, against
    PostgreSQL and Redis; then the systemd units' commands (gunicorn with
    deploy/gunicorn.conf.py, the worker) and nginx with deploy/'s proxy
    settings: a page through nginx, and a queued email in an SMTP server."""
    import re
    import secrets
    import signal
    import threading

    from tests.conftest import postgres_database, wait_for_exit
    from tests.functional.test_behind_nginx import _nginx_binary, _nginx_conf
    from tests.functional.test_send_mail import SmtpServer, free_port
    from tests.functional.test_two_app_servers import REDIS_URL, _needs_postgres_and_redis

    suite_url = _needs_postgres_and_redis()
    nginx = _nginx_binary()
    tag = secrets.token_hex(4)
    database = f"harbour_install_{tag}"
    database_url = postgres_database(suite_url, database)
    prefix, env_file = tmp_path / "srv-harbour", tmp_path / "harbour.env"
    full = os.environ.get("HARBOUR_TEST_FULL_INSTALL") == "1"
    env = {key: value for key, value in real_clock_env(dict(os.environ)).items()
           if not key.startswith(("FLASK_", "PYTHON", "HARBOUR_")) and key != "DATABASE_URL"}
    options: list[str] = []
    if not full:
        # Dependencies from the running interpreter's site-packages, as in the test above.
        run([sys.executable, "-m", "venv", str(prefix / ".venv")], env=env)
        site = run([str(prefix / ".venv" / "bin" / "python"), "-c",
                    "import sysconfig; print(sysconfig.get_path('purelib'))"], env=env)
        (Path(site.stdout.strip()) / "harbour-test-dependencies.pth").write_text(
            sysconfig.get_path("purelib") + "\n")
        options = ["--pip-option", "--no-deps"]
    source = tmp_path / "source"
    shutil.copytree(PROJECT_ROOT, source, ignore=shutil.ignore_patterns(*SKIP))
    smtp = SmtpServer()
    smtp.start()
    processes: list[tuple[subprocess.Popen, Path]] = []
    try:
        # The guide's step: deploy/install.sh, as the service user.
        installed = run(["bash", str(source / "deploy" / "install.sh"), "--prefix", str(prefix),
                         "--env-file", str(env_file), "--database-url", database_url,
                         "--redis-url", REDIS_URL, "--host", "127.0.0.1", *options],
                        env=env, cwd=tmp_path)
        assert "Running upgrade  -> " in installed.stderr  # it migrated the empty database
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        settings = env_file.read_text()
        assert "FLASK_HARBOUR_ENV=production" in settings and "FLASK_SECRET_KEY=" in settings
        # What an operator edits: the SMTP relay (here a local test server), and
        # for this test a queue name of its own and cheap password hashes.
        env_file.write_text(settings + "\n".join([
            f"FLASK_MAIL_PORT={smtp.port}", f"FLASK_HUEY_NAME=harbour-install-{tag}",
            "FLASK_ARGON2_TIME_COST=1", "FLASK_ARGON2_MEMORY_COST=8",
            "FLASK_ARGON2_PARALLELISM=1", ""]))
        run(_with_settings(env_file, str(prefix / ".venv/bin/python"), "-m", "flask", "--app",
                           "wsgi", "create-admin", "--email", GUIDE_ADMIN, "--display-name",
                           "Admin", "--password", GUIDE_PASSWORD), env=env, cwd=prefix)

        # The systemd units' ExecStart lines, in the units' WorkingDirectory.
        app_port, proxy_port = free_port(), free_port()
        for name in ("web", "worker"):
            command = _exec_start(prefix / "deploy" / "systemd" / f"harbour-{name}.service",
                                  prefix)
            log = tmp_path / f"{name}.log"
            processes.append((subprocess.Popen(  # noqa: S603 (the installed app)
                _with_settings(env_file, *command), cwd=prefix, start_new_session=True,
                env={**env, "HARBOUR_BIND": f"127.0.0.1:{app_port}", "HARBOUR_WORKERS": "2"},
                stdout=log.open("wb"), stderr=subprocess.STDOUT), log))
        conf = _nginx_conf(tmp_path, proxy_port, app_port)
        nginx_log = tmp_path / "nginx-stderr.log"
        processes.append((subprocess.Popen(  # noqa: S603 (Debian's nginx, our config)
            [nginx, "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "nginx-error.log"),
             "-g", "daemon off;"], start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=nginx_log.open("wb")), nginx_log))

        def through_nginx(*args, **kwargs):
            deadline = threading.Event()
            for _ in range(150):
                try:
                    return _http(proxy_port, *args, **kwargs)
                except OSError:
                    for process, log in processes:
                        assert process.poll() is None, log.read_text()[-3000:]
                    deadline.wait(0.2)
            raise AssertionError("nginx and gunicorn did not answer")

        status, _cookie, body = through_nginx("GET", "/healthz")
        for _ in range(100):
            if status != 502:
                break
            threading.Event().wait(0.2)
            status, _cookie, body = through_nginx("GET", "/healthz")
        assert status == 200, body
        assert '"migrations":"current"' in body.replace(" ", "")
        status, _cookie, page = through_nginx("GET", "/")
        assert status == 200 and "<title>" in page
        # Visitors' pages are kept in Redis, one cache for every worker (README).
        import redis

        kept = redis.Redis.from_url(REDIS_URL)
        before = set(kept.scan_iter("harbour:page:*"))
        status, _cookie, page = through_nginx("GET", f"/events?q=install-{tag}")
        assert status == 200
        assert set(kept.scan_iter("harbour:page:*")) - before

        status, cookie, page = through_nginx("GET", "/reset-password")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        status, _cookie, _page = through_nginx("POST", "/reset-password", cookie,
                                               {"csrf_token": token, "email": GUIDE_ADMIN})
        assert status in (200, 302)
        pause = threading.Event()
        for _ in range(300):
            if any(GUIDE_ADMIN in message.rcpt_tos for message in smtp.messages):
                break
            pause.wait(0.2)
        assert [m.rcpt_tos for m in smtp.messages] == [[GUIDE_ADMIN]], [
            log.read_text()[-3000:] for _process, log in processes]
    finally:
        for process, _log in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _log in processes:
            try:
                wait_for_exit(process, 30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        smtp.stop()
        postgres_database(suite_url, database, drop=True)
