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
