"""Argon2id password hashing with parameters from the configuration (R11)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app


def hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; never raises for a wrong or malformed hash."""
    try:
        return hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return hasher().check_needs_rehash(stored_hash)


# --- Password rules (R12, R13) ---------------------------------------------

MIN_LENGTH = 12
MAX_LENGTH = 128
# Words an attacker tries first against this community (R13), lower-cased.
CONTEXT_WORDS = (
    "harbour", "harbor", "hongkong", "hong kong", "hk", "香港", "freehongkong",
    "光復香港", "時代革命", "standwithhongkong", "hkers", "hongkonger", "fivedemands",
    "五大訴求", "加油", "withhongkong", "liberatehongkong",
)

_common: frozenset[str] | None = None


def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords, loaded once."""
    global _common
    if _common is None:
        import gzip
        from importlib.resources import files

        data = (files("community.auth") / "data" / "common-passwords.txt.gz").read_bytes()
        _common = frozenset(gzip.decompress(data).decode().split())
    return _common


def _squash(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum() or ord(ch) > 127)


def password_problem(password: str, *, email: str = "", display_name: str = "",
                     extra_words: tuple[str, ...] = ()) -> str | None:
    """Why ``password`` is refused, as a translated sentence, or None when it is fine.

    Length only, no composition rules (R12); common passwords and guessable
    words of this community are refused (R13), as are the user's own email and name.
    """
    from flask_babel import gettext as _

    if len(password) < MIN_LENGTH:
        return _("Use at least %(n)s characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("Use at most %(n)s characters.", n=MAX_LENGTH)
    lowered = password.casefold()
    letters = _squash(password)
    without_digits = "".join(ch for ch in letters if not ch.isdigit())
    common = common_passwords()
    if lowered in common or letters in common or without_digits in common:
        return _("This password is too common. Try a few unrelated words together.")
    remainder = without_digits
    for word in CONTEXT_WORDS + tuple(_squash(w) for w in extra_words if len(w) >= 4):
        remainder = remainder.replace(_squash(word), "")
    if len(set(remainder)) < 4 or len(remainder) < 6:
        return _("This password is too easy to guess. Try a few unrelated words together.")
    personal = [_squash(email.partition("@")[0]), _squash(display_name)]
    if any(len(p) >= 4 and p in letters for p in personal):
        return _("Your password must not contain your email address or display name.")
    return None
