"""TOTP two-factor codes (R18) and single-use recovery codes (R19)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import pyotp
import segno

from community.auth.models import RecoveryCode, User
from community.auth.passwords import verify_password
from community.database import utcnow
from community.extensions import db

RECOVERY_CODE_COUNT = 10
STEP = 30


def new_secret() -> str:
    """160 random bits, base32 (pyotp.random_base32 uses secrets)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, account_name: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The QR code as an SVG data: URI drawn here; no third-party QR service (R18).

    A data: image needs no |safe in the template and is allowed by our CSP.
    """
    return segno.make(uri, error="m").svg_data_uri(scale=5, dark="#1b1f24", light="#ffffff")


def _normalise(code: str) -> str:
    return "".join(ch for ch in (code or "") if ch.isalnum()).lower()


def matching_timecode(secret: str, code: str, now: datetime | None = None) -> int | None:
    """The time step ``code`` belongs to (now or one step either side), or None."""
    code = _normalise(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = now or utcnow()
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(user: User, code: str, now: datetime | None = None) -> bool:
    """Accept a code once: a step at or before the last accepted one is a replay."""
    if not user.totp_secret:
        return False
    step = matching_timecode(user.totp_secret, code, now)
    if step is None or (user.totp_last_timecode is not None and step <= user.totp_last_timecode):
        return False
    user.totp_last_timecode = step
    return True


# Recovery codes (R19). Each is 16 characters drawn uniformly from the 32-letter
# base32 alphabet: 80 random bits. A code that is not chosen by a person and has
# that much entropy needs no slow hash: guessing one from a stolen hash takes
# about 2**80 / 10 SHA-256 computations for a set of ten, some 400,000 years
# at 10**10 hashes a second, so one SHA-256 per code is sound and turning
# two-factor on takes milliseconds instead of ten Argon2 runs (issue 15). Online
# guessing is throttled with TOTP codes (5 tries). See README "Security notes".
RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
RECOVERY_CODE_LENGTH = 16          # 16 x 5 bits = 80 bits
RECOVERY_HASH_PREFIX = "sha256$"
# Codes issued before: 10 hex characters (40 bits), stored Argon2id-hashed.
LEGACY_CODE_LENGTH = 10


def _recovery_hash(normalised: str) -> str:
    return RECOVERY_HASH_PREFIX + hashlib.sha256(normalised.encode()).hexdigest()


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with ten new ones; only hashes are stored."""
    for old in list(user.recovery_codes):
        db.session.delete(old)
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        code = "-".join(raw[i:i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4))
        codes.append(code)
        user.recovery_codes.append(RecoveryCode(code_hash=_recovery_hash(raw)))
    db.session.flush()
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    """Consume a matching unused recovery code: a new one by its SHA-256, or one
    issued before (Argon2id-hashed, 10 hex characters) by Argon2id as before."""
    code = _normalise(code)
    unused = [stored for stored in user.recovery_codes if stored.used_at is None]
    if len(code) == RECOVERY_CODE_LENGTH:
        wanted = _recovery_hash(code)
        for stored in unused:
            if secrets.compare_digest(stored.code_hash.encode(), wanted.encode()):
                stored.used_at = utcnow()
                return True
    elif len(code) == LEGACY_CODE_LENGTH:
        for stored in unused:
            if (not stored.code_hash.startswith(RECOVERY_HASH_PREFIX)
                    and verify_password(stored.code_hash, code)):
                stored.used_at = utcnow()
                return True
    return False


def remaining_recovery_codes(user: User) -> int:
    return sum(1 for c in user.recovery_codes if c.used_at is None)
