"""Account rules: sign-up, verification, sign-in, reset, password, email, 2FA.

Routes call these with plain values; these raise AuthError (a translated
message for the form), Throttled or InvalidToken.
"""

from __future__ import annotations

from functools import partial

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from community.auth import throttle, totp
from community.auth.models import User
from community.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from community.auth.sessions import end_other_sessions
from community.auth.tokens import InvalidToken, make_token, user_for_token
from community.database import utcnow
from community.encryption import blind_index
from community.errors import DomainError
from community.extensions import db
from community.logs import security_event
from community.security import absolute_url
from community.transaction import on_commit

__all__ = ["AuthError", "InvalidToken", "authenticate", "register"]

# Verified against when the email is unknown, so both branches cost one hash (R15).
_DUMMY_HASH: str | None = None


class AuthError(DomainError):
    """A rule refused the request; ``message`` is translated and safe to show."""


def normalise_email(email: str) -> str:
    """Trim, and lower-case the domain (the local part is the owner's business)."""
    email = (email or "").strip()
    local, _sep, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}" if local else email


def find_user(email: str) -> User | None:
    """The account for an address, ignoring case: people type their address as
    they like. Looked up through the blind index (R40)."""
    return db.session.scalar(
        select(User).where(User.email_index == blind_index(normalise_email(email))).limit(1)
    )


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("harbour-dummy-password-for-timing")
    return _DUMMY_HASH


def _email(user_or_address, template: str, *, locale: str | None = None, **context) -> None:
    from community.mail import queue_templated_email

    if isinstance(user_or_address, User):
        queue_templated_email(
            to_address=user_or_address.email, locale=user_or_address.locale,
            template=template, user_id=user_or_address.id,
            display_name=user_or_address.display_name, **context,
        )
    else:
        queue_templated_email(to_address=user_or_address, locale=locale or "en",
                              template=template, **context)


def check_new_password(password: str, *, email: str, display_name: str) -> None:
    problem = password_problem(password, email=email, display_name=display_name)
    if problem:
        raise AuthError(problem, field="password")


def register(*, email: str, display_name: str, password: str, locale: str) -> None:
    """Create an unverified account and send its verification link.

    Email-first (R15): for an address that already has an account, nothing is
    created and its owner gets a "you already have an account" email instead;
    the caller answers the same in both cases. Raises AuthError for a weak password.
    """
    email = normalise_email(email)
    display_name = display_name.strip()
    check_new_password(password, email=email, display_name=display_name)
    password_hash = hash_password(password)  # computed in both branches (R15)
    existing = find_user(email)
    if existing is not None:
        _email(existing, "already_registered", sign_in_url=absolute_url("auth.sign_in"),
               reset_url=absolute_url("auth.reset_request"))
        return
    user = User(email=email, display_name=display_name, password_hash=password_hash,
                locale=locale)
    db.session.add(user)
    db.session.flush()
    send_verification(user)


def send_verification(user: User) -> None:
    token = make_token(user, "verify")
    _email(user, "verify_email", verify_url=absolute_url("auth.verify_email", token=token))


def confirm_email(token: str) -> User:
    """Mark the account's address verified. Raises InvalidToken."""
    user, _data = user_for_token(token, "verify", current_app.config["EMAIL_TOKEN_MAX_AGE"])
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    return user


def authenticate(email: str, password: str) -> User:
    """The account for these credentials.

    Raises Throttled before hashing when a limit is spent (R14), and AuthError
    with one generic message for every other failure (R15). Exactly one
    password verification runs per call, whether or not the account exists.
    """
    email = normalise_email(email)
    throttle.check("login", email)
    user = find_user(email)
    if user is None:
        verify_password(_dummy_hash(), password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    if not ok or user is None or not user.is_active:
        throttle.record_failure("login", email)
        security_event("login.failure", actor=user.public_id if user is not None else None)
        raise AuthError(_("That email and password do not match an account. "
                          "Check them and try again."))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    # Once the sign-in (its server-side session) is committed; a failure above
    # is logged at once, as the attempt happened whatever the request does next.
    on_commit(partial(security_event, "login.success", actor=user.public_id))
    return user


def verify_second_factor(user: User, code: str) -> bool:
    """A TOTP code or an unused recovery code. Raises Throttled after 5 wrong codes (R18)."""
    throttle.check("code", user.public_id)
    if totp.verify_totp(user, code) or totp.use_recovery_code(user, code):
        return True
    throttle.record_failure("code", user.public_id)
    return False


def request_password_reset(email: str) -> None:
    """Email a reset link if the account exists; the caller answers the same either way."""
    user = find_user(email)
    if user is None or not user.is_active:
        return
    user.reset_requested_at = utcnow()
    db.session.flush()
    token = make_token(user, "reset")
    _email(user, "reset_password", reset_url=absolute_url("auth.reset_with_token", token=token))


def user_for_reset(token: str) -> User:
    user, _data = user_for_token(token, "reset", current_app.config["RESET_TOKEN_MAX_AGE"])
    return user


def set_password(user: User, password: str, *, keep=None) -> None:
    """Store a new password, end every other session (R17) and tell the owner."""
    check_new_password(password, email=user.email, display_name=user.display_name)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    end_other_sessions(user, keep=keep)
    _email(user, "password_changed", reset_url=absolute_url("auth.reset_request"))


def reset_password(token: str, password: str) -> User:
    """Set a new password from a reset link; the link then stops working (R16)."""
    user = user_for_reset(token)
    set_password(user, password)
    return user


def change_password(user: User, current_password: str, new_password: str, keep) -> None:
    if not verify_password(user.password_hash, current_password):
        raise AuthError(_("Your current password is not right."), field="current_password")
    set_password(user, new_password, keep=keep)


def _no_change_while_travelling(user: User) -> None:
    """Travel mode writes no email for the member (issue 16), and changing the
    address needs two: the link to the new address and the notice to the old."""
    if user.travel_mode_since is not None:
        raise AuthError(_("Your email address cannot be changed while travel mode is on."),
                        field="email")


def request_email_change(user: User, new_email: str, password: str) -> None:
    """Send a confirmation link to the new address; nothing changes until it is
    used. Refused while travel mode is on."""
    _no_change_while_travelling(user)
    if not verify_password(user.password_hash, password):
        raise AuthError(_("Your password is not right."), field="password")
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise AuthError(_("That is already your email address."), field="email")
    if find_user(new_email) is None:
        token = make_token(user, "email", new=new_email)
        _email(new_email, "email_change_confirm", locale=user.locale,
               display_name=user.display_name,
               confirm_url=absolute_url("auth.confirm_email_change", token=token))
    # If the address is taken we say nothing, so this form cannot find accounts.


def confirm_email_change(token: str) -> User:
    """Switch to the new address and tell the old one. Raises InvalidToken, or
    AuthError while travel mode is on (the link works again once it is off)."""
    user, data = user_for_token(token, "email", current_app.config["EMAIL_TOKEN_MAX_AGE"])
    new_email = data.get("new")
    if not isinstance(new_email, str) or find_user(new_email) is not None:
        raise InvalidToken
    _no_change_while_travelling(user)
    old_email = user.email
    user.email = new_email
    user.email_verified_at = utcnow()
    _email(old_email, "email_changed_notice", locale=user.locale,
           display_name=user.display_name)
    return user


def enable_two_factor(user: User, secret: str, code: str) -> tuple[list[str], bool]:
    """Turn on TOTP once a code from the new secret checks out; returns the new
    recovery codes and whether this was the same form sent again.

    The user's row is locked first, so two submissions of one form run one after
    the other; the second finds this secret already on and issues fresh codes
    in place of the first set, which its page may never have shown (issue 15).
    """
    db.session.refresh(user, with_for_update=True)
    if user.totp_secret is not None and user.totp_secret == secret:
        return totp.new_recovery_codes(user), True
    step = totp.matching_timecode(secret, code)
    if step is None:
        raise AuthError(_("That code did not match. Check the time on your phone and "
                          "enter the newest code."), field="code")
    user.totp_secret = secret
    user.totp_last_timecode = step
    return totp.new_recovery_codes(user), False


def disable_two_factor(user: User, password: str) -> None:
    if not verify_password(user.password_hash, password):
        raise AuthError(_("Your password is not right."), field="password")
    user.totp_secret = None
    user.totp_last_timecode = None
    for code in list(user.recovery_codes):
        db.session.delete(code)
