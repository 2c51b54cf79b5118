"""R32 and R47: the banned APIs are refused by ruff, and bandit finds nothing."""

from __future__ import annotations

import shutil
import subprocess  # noqa: S404 (runs our own linters, no shell)
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists() or shutil.which(name), f"{name} is not installed in the venv"
    return str(path) if path.exists() else shutil.which(name)


@pytest.mark.parametrize(
    "snippet",
    [
        "from flask import render_template_string\n",
        "from markupsafe import Markup\n",
        "import pickle\n",
        "import yaml\nyaml.load('a')\n",
        "import subprocess\nsubprocess.run('ls', shell=True)\n",
    ],
)
def test_r32_ruff_refuses_banned_apis(tmp_path, snippet):
    target = tmp_path / "community_sample.py"
    target.write_text(snippet)
    result = subprocess.run(  # noqa: S603
        [tool("ruff"), "check", "--config", str(ROOT / "ruff.toml"), "--no-cache", str(target)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 1, result.stdout
    assert any(code in result.stdout for code in ("TID251", "S301", "S403", "S506", "S602"))


def test_r32_r47_project_is_clean_under_ruff_security_rules():
    result = subprocess.run(  # noqa: S603
        [tool("ruff"), "check", "--select", "S,TID251", "--no-cache", "."],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout


def test_r47_bandit_finds_nothing_of_medium_or_high_severity():
    result = subprocess.run(  # noqa: S603
        [tool("bandit"), "-q", "-r", "community", "-ll"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_r32_safe_filter_only_in_allowlisted_templates():
    allowlist: set[str] = set()
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "templates").rglob("*.html")
        if "|safe" in path.read_text().replace(" ", "")
        and str(path.relative_to(ROOT)) not in allowlist
    ]
    assert offenders == []
