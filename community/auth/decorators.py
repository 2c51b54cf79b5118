"""View guards: signed in, verified, two-factor for staff, recently re-authenticated.

Staff pages (organiser areas, attendee lists, check-in, chapter and admin pages)
use ``staff_required``: it answers 404 to anyone who may not see the page
*before* it asks for two-factor set-up or a fresh password, so a plain member
meets the same 404 as for a page that does not exist (R8, R20).
"""

from __future__ import annotations

from functools import wraps

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from community.auth.sessions import recently_authenticated
from community.extensions import login_manager

__all__ = ["login_required", "recent_auth_required", "staff_gate", "staff_required",
           "two_factor_required", "verified_required"]


def _here() -> str:
    return request.full_path.rstrip("?") if request.method == "GET" else request.path


@login_manager.unauthorized_handler
def _to_sign_in():
    from flask import g

    if g.get("session_ended"):
        flash(_("You were signed out. Please sign in again."), "info")
    else:
        flash(_("Please sign in to see that page."), "info")
    return redirect(url_for("auth.sign_in", next=_here()))


def verified_required(view):
    """Signed in with a verified email address (needed to join hubs and RSVP)."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_verified:
            flash(_("Please confirm your email address first. We can send the link again."),
                  "error")
            return redirect(url_for("members.dashboard"))
        return view(*args, **kwargs)

    return wrapped


def _two_factor_missing():
    if current_app.config["TWO_FACTOR_REQUIRED_FOR_STAFF"] and not current_user.totp_secret:
        flash(_("Organisers and admins must turn on two-factor authentication first."),
              "error")
        return redirect(url_for("auth.two_factor", next=_here()))
    return None


def _not_recently_authenticated():
    if not recently_authenticated():
        return redirect(url_for("auth.confirm", next=_here()))
    return None


def staff_gate(*, recent_auth: bool = False):
    """What a staff page answers instead of itself: the two-factor set-up page,
    then (with ``recent_auth``) the password confirmation; None to go on (R20).

    Call it only once the permission check has passed: to anyone else the page
    answers 404 (R8). ``staff_required`` does both in that order.
    """
    return _two_factor_missing() or (_not_recently_authenticated() if recent_auth else None)


def staff_required(check, *, recent_auth: bool = False):
    """Staff pages: signed in; then ``check(**view_args)``, which aborts with 404
    for anyone who may not see the page; then ``staff_gate``.

    The view runs its own lookup as before; the check only decides who gets past
    the door, so that nobody learns a staff page exists from a two-factor prompt.
    """

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            check(**kwargs)
            return staff_gate(recent_auth=recent_auth) or view(*args, **kwargs)

        return wrapped

    return decorate


def two_factor_required(view):
    """Two-factor authentication must be on (R20). For a page only some people
    may see, use ``staff_required`` (or ``staff_gate`` after the check) instead,
    so that everyone else gets a 404 first."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        return _two_factor_missing() or view(*args, **kwargs)

    return wrapped


def recent_auth_required(view):
    """Sensitive actions on one's own account: password (and code) confirmed in
    the last 10 minutes (R20)."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        return _not_recently_authenticated() or view(*args, **kwargs)

    return wrapped
