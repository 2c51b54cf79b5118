"""The Chinese catalogue speaks with one voice: translations/GLOSSARY.md (issue 15).

Each product term has one rendering, interface text keeps to the spoken
Cantonese register, and the glossary's exceptions stay current.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[2]
GLOSSARY = ROOT / "translations" / "GLOSSARY.md"
CATALOGUE = ROOT / "translations" / "zh_Hant_HK" / "LC_MESSAGES" / "messages.po"
# A msgstr with any of these is written in the spoken register.
SPOKEN_MARKERS = re.compile("[嘅咗唔喺係佢冇啲睇嚟呢]")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}")


def table(section: str) -> list[list[str]]:
    """The rows of the first markdown table under ``## section``, header dropped."""
    text = GLOSSARY.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"GLOSSARY.md has no '## {section}' section"
    rows = []
    for line in match.group(1).splitlines():
        if not line.startswith("|") or re.fullmatch(r"\|[-| ]+\|", line):
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[1:]


def terms() -> dict[str, set[str]]:
    """Each English form → every rendering the glossary gives it."""
    renderings: dict[str, set[str]] = {}
    for english, chinese, _notes in table("Terms"):
        for form in english.split(" / "):
            renderings.setdefault(form.strip().lower(), set()).add(chinese)
    return renderings


def exceptions() -> set[tuple[str, str]]:
    return {(msgid, english.lower()) for msgid, english, _why in table("Exceptions")}


def register() -> list[tuple[str, str, list[str]]]:
    return [(written, spoken, [w.strip() for w in allowed.split(",") if w.strip()])
            for written, spoken, allowed in table("Register")]


def messages() -> list[tuple[list[str], list[str]]]:
    with CATALOGUE.open("rb") as f:
        catalogue = read_po(f, locale="zh_Hant_HK")

    def as_list(value) -> list[str]:
        return list(value) if isinstance(value, tuple | list) else [value]

    return [(as_list(m.id), as_list(m.string)) for m in catalogue if m.id]


def words_of(msgid: str) -> str:
    """The msgid without its placeholders: "%(hub)s" names no hub."""
    return PLACEHOLDER.sub(" ", msgid)


def word(english: str) -> re.Pattern:
    # A whole word: "member" is not in "members-only", "sign in" is not in "signing in".
    return re.compile(rf"(?<![\w-]){re.escape(english)}(?![\w-])", re.I)


def test_the_glossary_is_a_table_of_terms():
    found = terms()
    assert len(found) > 50
    assert found["approve"] == {"批准"}
    assert found["hub"] == {"小組"}


def test_every_translation_uses_the_glossary_rendering_of_its_terms():
    skip = exceptions()
    wrong = []
    for english, renderings in sorted(terms().items()):
        pattern = word(english)
        for ids, strings in messages():
            if not any(pattern.search(words_of(i)) for i in ids) or (ids[0], english) in skip:
                continue
            for string in strings:
                if not any(rendering in string for rendering in renderings):
                    wrong.append(f"{english} → {'/'.join(sorted(renderings))}: "
                                 f"{ids[0]!r} is translated {string!r}")
    assert wrong == [], "\n".join(wrong)


def test_spoken_sentences_use_no_written_forms():
    wrong = []
    rules = register()
    for ids, strings in messages():
        for string in strings:
            if not SPOKEN_MARKERS.search(string):
                continue
            for written, spoken, allowed in rules:
                rest = string
                for allowed_word in allowed:
                    rest = rest.replace(allowed_word, "")
                if written in rest:
                    wrong.append(f"{written} → {spoken}: {ids[0]!r} is translated {string!r}")
    assert wrong == [], "\n".join(wrong)


def test_quoted_labels_are_quoted_as_they_read_on_screen():
    """“Invited people only” in a sentence is 「只限獲邀請嘅人」, the option's own text."""
    translation = {ids[0].lower(): strings[0] for ids, strings in messages()}
    wrong = []
    for ids, strings in messages():
        for label in re.findall(r"“([^”]+)”", ids[0]):
            on_screen = translation.get(label.lower())
            if on_screen is None:
                continue  # a quoted phrase, not a label of its own
            if f"「{on_screen}」" not in strings[0]:
                wrong.append(f"{ids[0]!r}: quote 「{on_screen}」, not {strings[0]!r}")
    assert wrong == [], "\n".join(wrong)


def test_every_exception_still_matches_an_entry():
    catalogue = {ids[0]: ids for ids, _strings in messages()}
    stale = [(msgid, english) for msgid, english in exceptions()
             if not any(word(english).search(i) for i in catalogue.get(msgid, []))]
    assert stale == []


def test_chinese_lists_are_not_joined_with_an_ascii_comma():
    wrong = [string for _ids, strings in messages() for string in strings
             if re.search(r"[\u4e00-\u9fff]\s*, ?[\u4e00-\u9fff]", string)]
    assert wrong == []
