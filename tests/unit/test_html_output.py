"""Template habits the W3C Nu checker refuses (issue 15); tests/browser/test_valid_html.py
checks the pages themselves, these catch the templates no browser test opens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from community.i18n import html_datetime

pytestmark = pytest.mark.no_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def templates() -> list[tuple[str, str]]:
    return [(str(path.relative_to(TEMPLATES)), path.read_text(encoding="utf-8"))
            for path in sorted(TEMPLATES.rglob("*.html"))]


def test_csrf_tokens_render_without_an_id():
    """Two forms on one page would give two elements id="csrf_token"."""
    with_id = [name for name, text in templates() if re.search(r"\.csrf_token\s*\}\}", text)]
    assert with_id == []


def test_time_elements_use_the_html_datetime_filter():
    raw = [name for name, text in templates() if re.search(r"datetime=\"\{\{[^}]*isoformat", text)]
    assert raw == []


def test_html_datetime_is_utc_to_the_second():
    moment = datetime(2099, 3, 30, 18, 5, 7, 123456, tzinfo=timezone(timedelta(hours=8)))
    assert html_datetime(moment) == "2099-03-30T10:05:07Z"
    assert html_datetime(datetime(2099, 3, 30, 10, 5, 7, 999999)) == "2099-03-30T10:05:07Z"  # noqa: DTZ001
    assert html_datetime(datetime(2099, 1, 1, tzinfo=UTC)) == "2099-01-01T00:00:00Z"
