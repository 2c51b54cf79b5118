"""Logs as JSON lines (DESIGN.md §7, R37, R45).

One formatter for the app's logger (``community`` and its children) and for
gunicorn's error log (deploy/gunicorn.conf.py). A line never holds a client
address, and a request is named by its route (``/calendar/<token>.ics``),
never by its path or query string, which can carry calendar, invite or reset
tokens. Security events (R45) go to the same stream through
``security_event``, with pseudonymous ids only.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime

from pythonjsonlogger.json import JsonFormatter

HANDLER_NAME = "harbour-json"
SECURITY_LOGGER = "community.security_events"

security_log = logging.getLogger(SECURITY_LOGGER)

_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
# Eight groups, or fewer around "::" (so a time such as 12:30:45 is left alone).
_IPV6 = re.compile(
    r"(?<![\w:])(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"
    r"|(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?)"
    r"(?![\w:])")


def redact_addresses(text: str) -> str:
    """``text`` with every IPv4 or IPv6 address replaced by ``[address]`` (R37)."""
    return _IPV6.sub("[address]", _IPV4.sub("[address]", text))


class HarbourJsonFormatter(JsonFormatter):
    """``time`` in UTC (ISO 8601), ``level``, ``logger``, ``message`` and any
    ``extra`` fields; the request, when there is one, by method, route and
    endpoint only. Anything shaped like an IP address in the message (gunicorn
    names the peer of a malformed request) is replaced by ``[address]``."""

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return scrub_database_values(super().formatException(ei), ei[1] if ei else None)

    def add_fields(self, log_record, record, message_dict) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds")
        log_record["level"] = record.levelname
        log_record["logger"] = record.name
        for key in ("message", "exc_info"):
            if isinstance(log_record.get(key), str):
                log_record[key] = redact_addresses(log_record[key])
        log_record.update(request_fields())


def _database_errors(error: BaseException | None):
    """The driver errors in ``error``'s chain (psycopg, sqlite3), each once."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        original = getattr(error, "orig", None)  # SQLAlchemy's DBAPIError wraps it
        for candidate in (error, original):
            module = type(candidate).__module__ if candidate is not None else ""
            if module.startswith(("psycopg", "sqlite3")):
                yield candidate
        error = error.__cause__ or error.__context__


def _database_error_summary(error: BaseException) -> str:
    """What a driver error may say in a log: its kind, SQLSTATE and
    constraint, never its message, which can quote the row (PostgreSQL's
    "DETAIL: Key (email)=(...)") or a value it could not read."""
    diag = getattr(error, "diag", None)
    parts = [type(error).__name__]
    if getattr(error, "sqlstate", None):
        parts.append(f"SQLSTATE {error.sqlstate}")
    if diag is not None and getattr(diag, "constraint_name", None):
        parts.append(f"constraint {diag.constraint_name}")
    if type(error).__module__.startswith("sqlite3"):
        # SQLite's messages name the constraint or column, never a value.
        parts.append(str(error).splitlines()[0][:200] if str(error) else "")
    return "[database error: " + ", ".join(part for part in parts if part) + "]"


def scrub_database_values(text: str, error: BaseException | None) -> str:
    """``text`` (a formatted traceback) without the messages of the database
    errors in ``error``'s chain. SQLAlchemy's own parameters are hidden by the
    engine (``hide_parameters``); this removes what the driver quotes."""
    for found in _database_errors(error):
        message = str(found)
        if message:
            text = text.replace(message, _database_error_summary(found))
    return text


def request_fields() -> dict:
    """What a log line may say about the current request: never the address,
    the path or the query string."""
    from flask import has_request_context, request

    if not has_request_context():
        return {}
    rule = request.url_rule
    return {
        "method": request.method,
        "route": rule.rule if rule is not None else None,
        "endpoint": request.endpoint,
    }


def json_formatter() -> logging.Formatter:
    # Only these record attributes (plus ``extra``) reach the line; args are
    # merged into ``message`` first.
    return HarbourJsonFormatter("{message}{exc_info}", style="{")


def configure(app) -> None:
    """Send the app's logger to stderr as JSON lines, replacing Flask's
    plain-text default handler. Calling it again (another app in the same
    process) replaces the handler rather than adding a second one."""
    from flask.logging import default_handler

    logger = app.logger
    logger.removeHandler(default_handler)
    for handler in list(logger.handlers):
        if handler.get_name() == HANDLER_NAME:
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(json_formatter())
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def security_event(event: str, *, actor: str | None = None, target_type: str | None = None,
                   target_id: str | None = None, **fields) -> None:
    """One R45 security line: the event type and pseudonymous ids (public ids,
    never an email, address, token or session id)."""
    security_log.info(event, extra={"security_event": event, "actor": actor,
                                    "target_type": target_type, "target_id": target_id,
                                    **fields})
