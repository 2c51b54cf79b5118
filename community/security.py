"""Response headers, rate-limit keys and other cross-cutting protections."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from flask import current_app, request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: Flask-WTF refuses HTTPS POSTs without a Referer.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=(), payment=()",
}


def apply_security_headers(response):
    """Add the R25/R27 headers to every response, errors and static files included."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.pop("Server", None)
    response.headers.pop("X-Powered-By", None)
    onion = current_app.config.get("ONION_LOCATION")
    if onion:
        response.headers["Onion-Location"] = onion.rstrip("/") + request.full_path.rstrip("?")
    if request.endpoint == "static":
        response.headers["Cache-Control"] = "public, max-age=3600"
    else:
        # Pages may be personalised by the session or the language cookie (R25).
        # Public calendars and feeds (pagecache) may be kept if revalidated by ETag.
        if not (response.headers.get("ETag")
                and response.headers.get("Cache-Control") in ("no-cache", "private, no-cache")):
            response.headers["Cache-Control"] = "no-store"
        response.vary.add("Cookie")
        response.vary.add("Accept-Language")
    return response


def _daily_key(day: str) -> bytes:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"rate-limit:{day}".encode(), hashlib.sha256).digest()


def pseudonymous_client() -> str:
    """An HMAC of the client address under a key that changes daily (R37).

    The raw address is never stored, in the limiter or anywhere else.
    """
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    address = (request.remote_addr or "unknown").encode()
    return hmac.new(_daily_key(day), address, hashlib.sha256).hexdigest()[:32]


def rate_limit_key() -> str:
    """Flask-Limiter key function: never the raw remote address (R37)."""
    return "client:" + pseudonymous_client()


def is_safe_redirect(target: str | None) -> bool:
    """True when ``target`` is a path on this site (no scheme, host or backslash tricks)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    return "\\" not in target and not any(ord(c) < 32 for c in target)


def absolute_url(endpoint: str, **values) -> str:
    """An absolute link built from BASE_URL, never from the request's Host (R16, R29)."""
    from flask import has_request_context, url_for

    base = current_app.config["BASE_URL"].rstrip("/")
    if has_request_context():
        return base + url_for(endpoint, _external=False, **values)
    # From the command line (digests, reminders): build the path from the URL map.
    return base + current_app.url_map.bind("localhost").build(endpoint, values)


def _without_nul(data):
    from werkzeug.datastructures import ImmutableMultiDict

    return ImmutableMultiDict(
        (key.replace("\x00", ""), value.replace("\x00", "") if isinstance(value, str) else value)
        for key, value in data.items(multi=True)
    )


def make_request_class():
    """A Request whose query and form values never carry NUL characters, which
    PostgreSQL refuses in text: no input may turn into a server error."""
    from flask import Request

    class HarbourRequest(Request):
        @property
        def args(self):
            if "_clean_args" not in self.__dict__:
                self.__dict__["_clean_args"] = _without_nul(Request.args.fget(self))
            return self.__dict__["_clean_args"]

        def _load_form_data(self) -> None:
            super()._load_form_data()
            if "form" in self.__dict__:
                self.__dict__["form"] = _without_nul(self.__dict__["form"])

    return HarbourRequest


# Spreadsheet programs run a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_cell(value) -> str:
    """A value as a CSV cell that a spreadsheet shows and never runs: text that
    starts like a formula gets a leading apostrophe (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
