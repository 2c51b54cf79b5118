"""Language and time zone choice, and helpers to show bilingual content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.dates import get_timezone as get_babel_timezone
from flask import current_app, request
from flask_babel import get_locale
from flask_login import current_user

LANGUAGE_COOKIE = "lang"

# BCP 47 forms for <html lang> and lang attributes.
HTML_LANG = {"en": "en", "zh_Hant_HK": "zh-Hant-HK"}
# Each language named in itself, for the switch.
NATIVE_NAMES = {"en": "English", "zh_Hant_HK": "中文（香港）"}
# Content columns carry a short suffix per locale.
CONTENT_SUFFIX = {"en": "en", "zh_Hant_HK": "zh"}


def supported_locale(value: str | None) -> str | None:
    """The supported locale a string names exactly, or None."""
    return value if value in current_app.config["LANGUAGES"] else None


def locale_for_tag(tag: str) -> str | None:
    """Map one Accept-Language tag to a supported locale.

    ``best_match`` finds nothing for ``zh-HK``; Babel parses the tag and any
    Chinese (or Cantonese) maps to the one Chinese catalogue we have.
    """
    try:
        parsed = Locale.parse(tag.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    if parsed.language in ("zh", "yue"):
        return "zh_Hant_HK"
    if parsed.language == "en":
        return "en"
    return None


def select_locale() -> str:
    """The user's setting, then the cookie, then Accept-Language, then English."""
    if current_user and current_user.is_authenticated:
        chosen = supported_locale(getattr(current_user, "locale", None))
        if chosen:
            return chosen
    chosen = supported_locale(request.cookies.get(LANGUAGE_COOKIE))
    if chosen:
        return chosen
    for tag, _quality in request.accept_languages:
        chosen = locale_for_tag(tag)
        if chosen:
            return chosen
    return "en"


def select_timezone() -> str | None:
    """A zone asked for on this page (``?tz=``, the "times in my time zone"
    choice, which needs no JavaScript), else the signed-in user's setting."""
    asked = valid_timezone(request.args.get("tz")) if request else None
    if asked:
        return asked
    if current_user and current_user.is_authenticated:
        return valid_timezone(getattr(current_user, "timezone", None))
    return None


def valid_timezone(name: str | None) -> str | None:
    """``name`` if it is an IANA zone we can both compute with and format, else None."""
    return name if isinstance(name, str) and name in all_timezones() else None


_TIMEZONES: frozenset[str] | None = None


def all_timezones() -> frozenset[str]:
    """The zones every layer accepts: ``zoneinfo`` computes with them and Babel (which
    Flask-Babel's ``format_datetime`` uses for the viewer's zone) formats them.

    ``zoneinfo.available_timezones()`` also lists names such as ``Factory`` and
    ``localtime`` that Babel cannot look up, so a page rendered in one would fail.
    This is the one list every form, query parameter and suggestion list uses.
    """
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = frozenset(name for name in available_timezones() if _formattable(name))
    return _TIMEZONES


def _formattable(name: str) -> bool:
    try:
        zone = ZoneInfo(name)
        babel_zone = get_babel_timezone(name)
        moment = datetime(2000, 1, 1, tzinfo=zone)
        format_datetime(moment, "full", tzinfo=babel_zone, locale="en")
    except (ZoneInfoNotFoundError, LookupError, ValueError, KeyError):
        return False
    return True


def timezone_names() -> list[str]:
    """Every zone of ``all_timezones``, sorted, for the time zone suggestions."""
    return sorted(all_timezones())


_CASEFOLDED_ZONES: dict[str, str] | None = None


def canonical_timezone(typed: str | None) -> str | None:
    """The IANA name ``typed`` means, forgiving case and spaces for underscores
    ("asia/hong kong" is Asia/Hong_Kong); None when it names no zone we can use."""
    global _CASEFOLDED_ZONES
    if not isinstance(typed, str):
        return None
    if _CASEFOLDED_ZONES is None:
        _CASEFOLDED_ZONES = {name.casefold(): name for name in all_timezones()}
    if valid_timezone(typed):
        return typed
    return _CASEFOLDED_ZONES.get(typed.replace(" ", "_").casefold())


def current_locale() -> str:
    return str(get_locale() or "en")


def html_lang(locale: str | None = None) -> str:
    return HTML_LANG.get(locale or current_locale(), "en")


@dataclass(frozen=True)
class Localized:
    """A piece of bilingual content in the viewer's language where it exists."""

    text: str
    locale: str
    is_fallback: bool

    @property
    def lang(self) -> str:
        return HTML_LANG[self.locale]

    def __str__(self) -> str:
        return self.text


def localized(obj, field: str, locale: str | None = None) -> Localized:
    """``obj.<field>_<en|zh>`` in the viewer's language, falling back to the other."""
    wanted = locale or current_locale()
    order = [wanted] + [loc for loc in CONTENT_SUFFIX if loc != wanted]
    for loc in order:
        text = getattr(obj, f"{field}_{CONTENT_SUFFIX[loc]}", "") or ""
        if text.strip():
            return Localized(text, loc, loc != wanted)
    return Localized("", wanted, False)


def format_in_zone(value: datetime, zone: str, date_format: str = "full") -> str:
    """An aware datetime as the viewer's locale writes a date and a short time, in ``zone``."""
    locale = Locale.parse(current_locale())
    local = value.astimezone(ZoneInfo(zone))
    date_text = format_date(local.date(), date_format, locale=locale)
    time_text = format_time(local, "short", tzinfo=ZoneInfo(zone), locale=locale)
    pattern = locale.datetime_formats.get("medium", "{1} {0}")
    return str(pattern).format(time_text, date_text)


def format_event_time(event, date_format: str = "full") -> str:
    """An event's start in the event's own time zone, with the zone's abbreviation."""
    text = format_in_zone(event.starts_at, event.timezone, date_format)
    zone_abbr = event.starts_at.astimezone(ZoneInfo(event.timezone)).strftime("%Z")
    return f"{text} {zone_abbr}"


def viewer_zone_differs(event) -> str | None:
    """The viewer's zone when it gives a different wall-clock time, else None."""
    viewer = select_timezone()
    if not viewer or viewer == event.timezone:
        return None
    here = event.starts_at.astimezone(ZoneInfo(viewer))
    there = event.starts_at.astimezone(ZoneInfo(event.timezone))
    return viewer if here.utcoffset() != there.utcoffset() else None


def language_name(tag: str) -> str:
    """A spoken-language tag (``yue``, ``en``, ``cmn``) named in the viewer's language."""
    from flask_babel import gettext as _

    if tag == "cmn":  # CLDR names only the written forms of Chinese
        return _("Mandarin")
    try:
        return Locale.parse(tag.replace("-", "_")).get_display_name(current_locale()) or tag
    except (UnknownLocaleError, ValueError, TypeError):
        return tag


def rsvp_status_label(status) -> str:
    from flask_babel import gettext as _

    labels = {
        "going": _("Going"),
        "waitlisted": _("On the waiting list"),
        "pending": _("Waiting for approval"),
        "declined": _("Declined"),
    }
    return labels.get(getattr(status, "value", status), str(status))


def html_datetime(value: datetime) -> str:
    """A ``<time datetime>`` value: UTC to the second, as HTML allows (no microseconds).

    Naive datetimes are UTC (how the database stores them)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def init_app(app) -> None:
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.filters["language_name_filter"] = language_name
    app.jinja_env.filters["html_datetime"] = html_datetime
    app.jinja_env.globals.update(
        localized=localized,
        html_lang=html_lang,
        current_locale=current_locale,
        native_names=NATIVE_NAMES,
        format_event_time=format_event_time,
        format_in_zone=format_in_zone,
        viewer_zone_differs=viewer_zone_differs,
        rsvp_status_label=rsvp_status_label,
        language_name=language_name,
        render_markdown=_render_markdown,
    )


def _render_markdown(text):
    from community.markdown import render_markdown

    return render_markdown(text)
