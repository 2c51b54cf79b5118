"""View guards: signed in, verified, two-factor for staff, recently re-authenticated."""

from __future__ import annotations

from functools import wraps

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from community.auth.sessions import recently_authenticated
from community.extensions import login_manager

__all__ = ["login_required", "recent_auth_required", "two_factor_required", "verified_required"]


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


def two_factor_required(view):
    """Organiser and admin pages: two-factor authentication must be on (R20)."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_app.config["TWO_FACTOR_REQUIRED_FOR_STAFF"] and not current_user.totp_secret:
            flash(_("Organisers and admins must turn on two-factor authentication first."),
                  "error")
            return redirect(url_for("auth.two_factor", next=_here()))
        return view(*args, **kwargs)

    return wrapped


def recent_auth_required(view):
    """Sensitive actions: password (and code) confirmed in the last 10 minutes (R20)."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not recently_authenticated():
            return redirect(url_for("auth.confirm", next=_here()))
        return view(*args, **kwargs)

    return wrapped
