"""Travel mode (issue 16 item 6; DESIGN §2 rule 11).

On: the member's own screens show no hubs, answers, door duty or calendar
link (permissions.travelling), every other device is signed out, the personal
calendar stops serving, mail still waiting for them is paused and no new
email is written for them. Off: needs the password and, when it is on, the
second factor; everything comes back as it was. Organisers see nothing of it
but "paused" where their message could not go.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import or_, update

from community.auth import services as auth_services
from community.auth.models import User
from community.auth.sessions import end_other_sessions
from community.database import utcnow
from community.extensions import db
from community.outbox_models import OutboxEmail, OutboxStatus

PAUSED = "paused: travel mode"
# What a data download leaves out while travel mode is on, as a new account has none.
HUB_LINKED = ("memberships", "chapter_roles", "rsvps", "events_created", "updates",
              "comments", "reports", "audit_entries")


def turn_on(user: User, keep) -> int:
    """Switch travel mode on for ``user``, keeping the session ``keep``; returns
    how many other devices were signed out. Doing it twice changes nothing more."""
    if user.travel_mode_since is None:
        user.travel_mode_since = utcnow()
    signed_out = end_other_sessions(user, keep=keep)
    # Mail written before the switch is not sent either, to the account or its address.
    db.session.execute(
        update(OutboxEmail)
        .where(or_(OutboxEmail.user_id == user.id, OutboxEmail.to_index == user.email_index),
               OutboxEmail.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.FAILED, last_error=PAUSED)
        .execution_options(synchronize_session=False))
    db.session.flush()
    return signed_out


def turn_off(user: User, *, password: str, code: str) -> None:
    """Switch travel mode off once the password (and the second factor, when it
    is on) is given again. Raises auth AuthError on the form's field, or
    Throttled after too many wrong passwords, exactly as signing in does."""
    try:
        auth_services.authenticate(user.email, password)
    except auth_services.AuthError:
        raise auth_services.AuthError(_("Your password is not right."),
                                      field="password") from None
    if user.totp_secret and not auth_services.verify_second_factor(user, code or ""):
        raise auth_services.AuthError(_("That code did not work."), field="code")
    user.travel_mode_since = None
    db.session.flush()


def strip_for_travel(data: dict) -> dict:
    """A data download as a new account's would be: nothing that names a hub."""
    return {key: ([] if key in HUB_LINKED else value) for key, value in data.items()}
