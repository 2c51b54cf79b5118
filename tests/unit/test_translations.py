"""The Chinese catalogue is complete, current and safe (DESIGN §5, R35)."""

from __future__ import annotations

import re
import subprocess  # noqa: S404 (runs our own pybabel, no shell)
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "translations" / "zh_Hant_HK" / "LC_MESSAGES" / "messages.po"
TEMPLATE = ROOT / "translations" / "messages.pot"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w*)\}")
ALLOWED_TAG = re.compile(r"</?(strong|em)>|<a href=\"/[^\"]*\">|</a>")


def messages():
    with CATALOGUE.open("rb") as f:
        catalogue = read_po(f, locale="zh_Hant_HK")
    return [m for m in catalogue if m.id]


def as_list(value) -> list[str]:
    return list(value) if isinstance(value, tuple | list) else [value]


def test_every_message_is_translated_and_none_is_fuzzy():
    missing = [m.id for m in messages() if not all(as_list(m.string))]
    fuzzy = [m.id for m in messages() if m.fuzzy]
    assert missing == []
    assert fuzzy == []


def placeholders(text: str) -> set:
    return set(PLACEHOLDER.findall(text))


def test_placeholders_match_the_source():
    for message in messages():
        source = set().union(*(placeholders(s) for s in as_list(message.id)))
        for translation in as_list(message.string):
            if isinstance(message.id, tuple):
                # A plural form may leave the count implicit, but may add nothing.
                assert placeholders(translation) <= source, message.id
            else:
                assert placeholders(translation) == source, message.id


def test_r35_translations_carry_no_markup_or_script():
    for message in messages():
        for translation in as_list(message.string):
            stripped = ALLOWED_TAG.sub("", translation)
            assert "<" not in stripped, (message.id, translation)
            assert "javascript:" not in translation.lower()
            assert not re.search(r"\bon\w+\s*=", translation, re.I), message.id


def test_message_template_is_current(tmp_path):
    """Fails when a string was added or changed without `make translations`."""
    fresh = tmp_path / "messages.pot"
    subprocess.run(  # noqa: S603
        [str(Path(sys.executable).parent / "pybabel"), "extract",
         "-F", "translations/babel.cfg", "-k", "_l", "-k", "lazy_gettext",
         "--sort-output", "--no-location", "--omit-header", "-o", str(fresh), "."],
        cwd=ROOT, check=True, capture_output=True,
    )

    def ids(path: Path) -> set:
        with path.open("rb") as f:
            return {m.id for m in read_po(f) if m.id}

    assert ids(fresh) == ids(TEMPLATE), "run `make translations` and translate the new strings"
    assert ids(TEMPLATE) == {m.id for m in messages()}
