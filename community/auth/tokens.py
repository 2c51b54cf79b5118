"""Signed, expiring tokens for links in emails.

Each token is bound to a fingerprint of the account's current state, so it
dies as soon as that state changes: a reset link after any password or email
change or a newer reset request (R16); a verification link after an email change.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from community.auth.models import User


class InvalidToken(Exception):
    """The link is malformed, forged, expired, used or superseded."""


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"harbour:{purpose}")


def fingerprint(user: User, purpose: str) -> str:
    parts = [purpose, user.public_id, user.email]
    if purpose == "reset":
        parts += [user.password_hash, str(user.reset_requested_at or "")]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def make_token(user: User, purpose: str, **extra: str) -> str:
    payload = {"u": user.public_id, "f": fingerprint(user, purpose), **extra}
    return _serializer(purpose).dumps(payload)


def read_token(token: str, purpose: str, max_age: timedelta) -> dict:
    """The token's payload. Raises InvalidToken for anything but a fresh, genuine token."""
    try:
        data = _serializer(purpose).loads(token, max_age=int(max_age.total_seconds()))
    except (SignatureExpired, BadSignature, UnicodeDecodeError, ValueError) as exc:
        raise InvalidToken from exc
    if not isinstance(data, dict) or not isinstance(data.get("u"), str):
        raise InvalidToken
    return data


def user_for_token(token: str, purpose: str, max_age: timedelta) -> tuple[User, dict]:
    """The account a token was made for, while the account is unchanged."""
    from sqlalchemy import select

    from community.extensions import db

    data = read_token(token, purpose, max_age)
    user = db.session.scalar(select(User).where(User.public_id == data["u"]))
    if user is None or not user.is_active or data.get("f") != fingerprint(user, purpose):
        raise InvalidToken
    return user, data
