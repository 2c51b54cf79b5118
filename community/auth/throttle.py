"""Throttling of sign-in, codes and email-sending forms (R14, R18).

Keys are HMACs, never raw emails or addresses (R37). A tripped limit is
checked before any password hash is computed (SECURITY.md pitfall 9).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time

from flask import current_app
from limits import parse, storage, strategies

from community.extensions import limiter
from community.logs import security_event
from community.security import pseudonymous_client

ACCOUNT_FAILURES = parse("10 per 15 minutes")
CLIENT_FAILURES = parse("100 per hour")
GLOBAL_FAILURES = parse("2000 per minute")
CODE_FAILURES = parse("5 per 15 minutes")


class Throttled(Exception):
    """Too many recent failures; ``retry_after`` is in whole seconds."""

    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


def identifier_key(kind: str, identifier: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(secret, f"{kind}:{identifier.casefold()}".encode(), hashlib.sha256)
    return f"{kind}:{digest.hexdigest()[:32]}"


def _checks(kind: str, identifier: str):
    yield ACCOUNT_FAILURES if kind == "login" else CODE_FAILURES, identifier_key(kind, identifier)
    yield CLIENT_FAILURES, f"{kind}-client:{pseudonymous_client()}"
    yield GLOBAL_FAILURES, f"{kind}-all"


def _strategy():
    """Flask-Limiter's window strategy, or our own when rate limiting is switched off.

    ``RATELIMIT_ENABLED=false`` turns off the per-route limits, not these: they
    are the brute-force protection of sign-in and codes (R14, R18).
    """
    if limiter.enabled and limiter.limiter is not None:
        return limiter.limiter
    own = current_app.extensions.get("harbour_throttle")
    if own is None:
        backend = storage.storage_from_string(current_app.config["RATELIMIT_STORAGE_URI"])
        own = strategies.FixedWindowRateLimiter(backend)
        current_app.extensions["harbour_throttle"] = own
    return own


def check(kind: str, identifier: str) -> None:
    """Raise Throttled when any limit for this identifier, client or the site is spent."""
    strategy = _strategy()
    for item, key in _checks(kind, identifier):
        if not strategy.test(item, key):
            reset_at, _remaining = strategy.get_window_stats(item, key)
            # Which limit tripped, never its key (an HMAC of the address).
            security_event("throttle.trip", kind=kind, limit=key.split(":", 1)[0])
            raise Throttled(max(1, math.ceil(reset_at - time.time())))


def record_failure(kind: str, identifier: str) -> None:
    strategy = _strategy()
    for item, key in _checks(kind, identifier):
        strategy.hit(item, key)
