"""Validators, filters and fields shared by every form, so one rule reads the same everywhere."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField
from wtforms.validators import Length, ValidationError

from community.i18n import canonical_timezone

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


def known_timezone(_form, field) -> None:
    """An IANA zone, forgiving case and spaces for underscores ("asia/hong kong");
    the field then holds the zone's own name."""
    zone = canonical_timezone(field.data or "")
    if zone is None:
        # The typed text stays in the field so it can be corrected.
        raise ValidationError(_l("We do not know that time zone. Choose one from the "
                                 "list, such as Europe/London or Asia/Hong_Kong."))
    field.data = zone


def known_timezone_or_empty(form, field) -> None:
    """``known_timezone``, but an empty zone is allowed (a default is used)."""
    if field.data:
        known_timezone(form, field)


def one_line_breaks(value):
    """Browsers send CRLF; count a line break as one character, as the page does."""
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def at_most(n: int) -> Length:
    return Length(max=n, message=_l("Use at most %(max)d characters."))


class ChoiceField(SelectField):
    """A select whose unknown values get our own translated message, not WTForms'.

    Choices are ``SelectChoice`` objects (WTForms 3.3 deprecates tuples)."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators=[*(validators or []), self._known],
                         validate_choice=False, **kwargs)

    @staticmethod
    def _known(_form, field) -> None:
        if field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(_l("Choose one of the options in the list."))


class WholeNumberField(IntegerField):
    """An integer field whose parse error is our own translated message."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            self.data = int(valuelist[0])
        except (TypeError, ValueError) as error:
            self.data = None
            raise ValueError(_l("Enter a whole number, such as 7.")) from error

def is_https_url(value: str) -> bool:
    """An absolute https:// link to a host, with nothing a browser could read
    as another scheme (javascript:, data:) or as a second line."""
    if not value or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() == "https" and bool(host)
