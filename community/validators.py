"""Validators and filters shared by every form, so one rule reads the same everywhere."""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from wtforms.validators import Length, ValidationError

# Right-to-left overrides and isolates can make one name display as another.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def has_invisible_controls(value: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in BIDI_CONTROLS
               for ch in value)


def one_line(_form, field) -> None:
    """Names, titles, cities and addresses are one line of visible text."""
    if has_invisible_controls(field.data or ""):
        raise ValidationError(_l("Use one line of text, without line breaks or invisible "
                                 "control characters."))


def display_name_characters(_form, field) -> None:
    """A display name is one line of visible text, so it cannot pose as another name."""
    if has_invisible_controls(field.data or ""):
        raise ValidationError(_l("A display name cannot contain line breaks or invisible "
                                 "control characters."))


def no_control_characters(_form, field) -> None:
    """Descriptions and messages may hold line breaks but no other control characters."""
    value = field.data or ""
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in value):
        raise ValidationError(_l("Remove the invisible control characters from this text."))


def one_line_breaks(value):
    """Browsers send CRLF; count a line break as one character, as the page does."""
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def at_most(n: int) -> Length:
    return Length(max=n, message=_l("Use at most %(max)d characters."))
