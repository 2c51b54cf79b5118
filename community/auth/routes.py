"""Sign-up, sign-in and account security pages."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import select

from community.auth import forms, services, sessions, totp
from community.auth.decorators import recent_auth_required
from community.auth.models import User, UserSession
from community.auth.throttle import Throttled
from community.auth.tokens import InvalidToken
from community.database import utcnow
from community.errors import show_on_form
from community.extensions import db, limiter
from community.i18n import current_locale
from community.main.routes import too_many_attempts
from community.security import is_safe_redirect

bp = Blueprint("auth", __name__)

PENDING_2FA = "pending_2fa"
PENDING_TOTP = "pending_totp_secret"
# Set when two-factor is turned on: the secret's fingerprint and when, so that
# the same form sent again within REPEAT_WINDOW seconds shows codes (issue 15).
JUST_ENABLED = "totp_just_enabled"
REPEAT_WINDOW = 600
RESET_TOKEN = "reset_token"  # noqa: S105 (a session key name, not a secret)
PENDING_LIFETIME = timedelta(minutes=5)
EMAIL_LIMIT = "5 per hour;20 per day"


def _next_url(candidate: str | None) -> str:
    return candidate if is_safe_redirect(candidate) else url_for("members.dashboard")


def throttled_page(error: Throttled):
    return too_many_attempts(error.retry_after)


# --- sign up and verification --------------------------------------------------

@bp.route("/sign-up", methods=["GET", "POST"])
@limiter.limit(EMAIL_LIMIT, methods=["POST"])
def sign_up():
    if current_user.is_authenticated:
        return redirect(url_for("members.dashboard"))
    form = forms.SignUpForm()
    if request.method == "GET":
        form.locale.data = current_locale()
    if form.validate_on_submit():
        try:
            services.register(email=form.email.data, display_name=form.display_name.data,
                              password=form.password.data, locale=form.locale.data)
        except services.AuthError as error:
            show_on_form(form, error)
        else:
            return redirect(url_for("auth.check_inbox"))
    return render_template("auth/sign_up.html", form=form)


@bp.get("/sign-up/check-your-inbox")
def check_inbox():
    return render_template("auth/check_inbox.html")


@bp.route("/verify-email/<token>", methods=["GET", "POST"])
def verify_email(token: str):
    # GET only shows a button: link scanners must not verify anything (R26).
    form = forms.ActionForm()
    if form.validate_on_submit():
        try:
            user = services.confirm_email(token)
        except InvalidToken:
            return render_template("auth/link_invalid.html"), 400
        flash(_("Thank you, your email address is confirmed."), "success")
        if current_user.is_authenticated and current_user.id == user.id:
            return redirect(url_for("members.dashboard"))
        return redirect(url_for("auth.sign_in"))
    return render_template("auth/verify_email.html", form=form)


@bp.post("/verify-email/resend")
@login_required
@limiter.limit("3 per hour", methods=["POST"])
def resend_verification():
    form = forms.ActionForm()
    if not form.validate_on_submit():
        abort(400)
    if not current_user.is_verified:
        services.send_verification(current_user)
    flash(_("We sent the link again. It may take a few minutes to arrive."), "success")
    return redirect(url_for("members.dashboard"))


# --- sign in and out -----------------------------------------------------------

@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("members.dashboard"))
    form = forms.SignInForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except Throttled as error:
            return throttled_page(error)
        except services.AuthError as error:
            flash(error.message, "error")
        else:
            target = _next_url(form.next.data)
            if user.totp_secret:
                session.clear()
                session[PENDING_2FA] = {"user": user.public_id, "remember": form.remember.data,
                                        "next": target, "at": utcnow().isoformat()}
                return redirect(url_for("auth.sign_in_code"))
            sessions.start_session(user, remember=form.remember.data,
                                   user_agent=request.user_agent.string)
            return redirect(target)
    return render_template("auth/sign_in.html", form=form)


def _pending_user() -> tuple[User, dict] | None:
    from datetime import datetime

    pending = session.get(PENDING_2FA)
    if not isinstance(pending, dict):
        return None
    try:
        started = datetime.fromisoformat(pending["at"])
    except (KeyError, TypeError, ValueError):
        return None
    if utcnow() - started > PENDING_LIFETIME:
        session.pop(PENDING_2FA, None)
        return None
    user = db.session.scalar(select(User).where(User.public_id == pending.get("user")))
    if user is None or not user.is_active or not user.totp_secret:
        return None
    return user, pending


@bp.route("/sign-in/code", methods=["GET", "POST"])
def sign_in_code():
    found = _pending_user()
    if found is None:
        flash(_("Please sign in again."), "info")
        return redirect(url_for("auth.sign_in"))
    user, pending = found
    form = forms.CodeForm()
    if form.validate_on_submit():
        try:
            ok = services.verify_second_factor(user, form.code.data)
        except Throttled as error:
            return throttled_page(error)
        if ok:
            sessions.start_session(user, remember=bool(pending.get("remember")),
                                   user_agent=request.user_agent.string)
            left = totp.remaining_recovery_codes(user)
            if left < 3:
                flash(_("You have %(n)s recovery codes left. Make new ones in your "
                        "security settings.", n=left), "info")
            return redirect(_next_url(pending.get("next")))
        form.code.errors = [_("That code did not work. Try the newest code from your app, "
                              "or one of your recovery codes.")]
    return render_template("auth/sign_in_code.html", form=form)


@bp.post("/sign-out")
def sign_out():
    form = forms.ActionForm()
    if not form.validate_on_submit():
        abort(400)
    sessions.end_session()
    flash(_("You are signed out."), "success")
    response = redirect(url_for("main.home"))
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response


# --- password reset ------------------------------------------------------------

@bp.route("/reset-password", methods=["GET", "POST"])
@limiter.limit(EMAIL_LIMIT, methods=["POST"])
def reset_request():
    form = forms.ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        return render_template("auth/reset_sent.html")
    return render_template("auth/reset_request.html", form=form)


@bp.get("/reset-password/<token>")
def reset_with_token(token: str):
    # The token leaves the URL at once (R16): kept in the session, then a clean address.
    session[RESET_TOKEN] = token
    return redirect(url_for("auth.reset_new_password"))


@bp.route("/reset-password/new", methods=["GET", "POST"])
def reset_new_password():
    token = session.get(RESET_TOKEN)
    try:
        user = services.user_for_reset(token) if isinstance(token, str) else None
    except InvalidToken:
        user = None
    if user is None:
        session.pop(RESET_TOKEN, None)
        return render_template("auth/link_invalid.html"), 400
    form = forms.NewPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except services.AuthError as error:
            show_on_form(form, error)
        except InvalidToken:
            return render_template("auth/link_invalid.html"), 400
        else:
            session.pop(RESET_TOKEN, None)
            flash(_("Your password is changed. Please sign in with it."), "success")
            return redirect(url_for("auth.sign_in"))
    return render_template("auth/reset_new_password.html", form=form)


# --- re-authentication ---------------------------------------------------------

@bp.route("/account/confirm", methods=["GET", "POST"])
@login_required
def confirm():
    form = forms.ConfirmForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        try:
            services.authenticate(current_user.email, form.password.data)
            if current_user.totp_secret and not services.verify_second_factor(
                current_user, form.code.data or ""
            ):
                raise services.AuthError(_("That code did not work."), field="code")
        except Throttled as error:
            return throttled_page(error)
        except services.AuthError as error:
            show_on_form(form, error)
        else:
            sessions.mark_reauthenticated()
            return redirect(_next_url(form.next.data))
    return render_template("auth/confirm.html", form=form)


# --- security settings ---------------------------------------------------------

@bp.get("/account/security")
@login_required
def security():
    records = db.session.scalars(
        select(UserSession).where(UserSession.user_id == current_user.id)
        .order_by(UserSession.last_seen_at.desc())
    ).all()
    return render_template(
        "auth/security.html", sessions=records, current=sessions.current_session(),
        action=forms.ActionForm(), recovery_left=totp.remaining_recovery_codes(current_user),
    )


@bp.post("/account/sessions/revoke")
@login_required
def revoke_session():
    form = forms.ActionForm()
    if not form.validate_on_submit():
        abort(400)
    record = db.session.scalar(select(UserSession).where(
        UserSession.public_id == form.target.data, UserSession.user_id == current_user.id))
    if record is None:
        abort(404)
    was_current = record is sessions.current_session()
    db.session.delete(record)
    if was_current:
        session.clear()
        return redirect(url_for("main.home"))
    flash(_("That device is signed out."), "success")
    return redirect(url_for("auth.security"))


@bp.post("/account/sessions/revoke-others")
@login_required
def revoke_other_sessions():
    form = forms.ActionForm()
    if not form.validate_on_submit():
        abort(400)
    count = sessions.end_other_sessions(current_user, keep=sessions.current_session())
    flash(ngettext("Signed out %(num)d other device.", "Signed out %(num)d other devices.",
                   count), "success")
    return redirect(url_for("auth.security"))


@bp.route("/account/password", methods=["GET", "POST"])
@recent_auth_required
def change_password():
    form = forms.ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data,
                                     form.password.data, keep=sessions.current_session())
        except services.AuthError as error:
            show_on_form(form, error)
        else:
            flash(_("Your password is changed. Other devices were signed out."), "success")
            return redirect(url_for("auth.security"))
    return render_template("auth/change_password.html", form=form)


@bp.route("/account/email", methods=["GET", "POST"])
@recent_auth_required
@limiter.limit(EMAIL_LIMIT, methods=["POST"])
def change_email():
    form = forms.ChangeEmailForm()
    if form.validate_on_submit():
        try:
            services.request_email_change(current_user, form.email.data, form.password.data)
        except services.AuthError as error:
            show_on_form(form, error)
        else:
            flash(_("We sent a link to the new address. Your email changes when you open it."),
                  "success")
            return redirect(url_for("auth.security"))
    return render_template("auth/change_email.html", form=form)


@bp.route("/account/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email_change(token: str):
    form = forms.ActionForm()
    if form.validate_on_submit():
        try:
            services.confirm_email_change(token)
        except InvalidToken:
            return render_template("auth/link_invalid.html"), 400
        except services.AuthError as error:
            flash(error.message, "error")
            return render_template("auth/confirm_email_change.html", form=form), 409
        flash(_("Your email address is changed."), "success")
        return redirect(url_for("auth.security" if current_user.is_authenticated
                                else "auth.sign_in"))
    return render_template("auth/confirm_email_change.html", form=form)


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


def _same_enabling_form(enabled_secret: str | None) -> bool:
    """Whether this POST is the turn-on form sent again (a double click, or the
    browser's "send again") for the secret just turned on: sent before the first
    answer arrived it still carries the pending secret; after, the marker."""
    if not enabled_secret:
        return False
    if session.get(PENDING_TOTP) == enabled_secret:
        return True
    marker = session.get(JUST_ENABLED)
    if not isinstance(marker, dict) or marker.get("fp") != _fingerprint(enabled_secret):
        return False
    at = marker.get("at")
    return isinstance(at, int | float) and 0 <= utcnow().timestamp() - at < REPEAT_WINDOW


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def two_factor():
    repeat = request.method == "POST" and _same_enabling_form(current_user.totp_secret)
    if current_user.totp_secret and not repeat:
        return render_template("auth/two_factor_on.html", form=forms.DisableTwoFactorForm(),
                               action=forms.ActionForm(),
                               recovery_left=totp.remaining_recovery_codes(current_user))
    secret = current_user.totp_secret if repeat else session.get(PENDING_TOTP)
    if not isinstance(secret, str) or request.method == "GET" and request.args.get("new"):
        secret = totp.new_secret()
        session[PENDING_TOTP] = secret
    form = forms.CodeForm()
    if form.validate_on_submit():
        try:
            codes, repeated = services.enable_two_factor(
                current_user._get_current_object(), secret, form.code.data)
        except services.AuthError as error:
            show_on_form(form, error)
        else:
            session.pop(PENDING_TOTP, None)
            session[JUST_ENABLED] = {"fp": _fingerprint(secret), "at": utcnow().timestamp()}
            sessions.mark_reauthenticated()
            if not repeated:
                flash(_("Two-factor authentication is on."), "success")
            return render_template("auth/recovery_codes.html", codes=codes, repeated=repeated,
                                   next=_next_url(request.args.get("next")))
    uri = totp.provisioning_uri(secret, current_user.email, current_app.config["SITE_NAME"])
    return render_template("auth/two_factor_setup.html", form=form, secret=secret,
                           qr_uri=totp.qr_data_uri(uri))


@bp.post("/account/two-factor/disable")
@recent_auth_required
def disable_two_factor():
    form = forms.DisableTwoFactorForm()
    if form.validate_on_submit():
        try:
            services.disable_two_factor(current_user, form.password.data)
        except services.AuthError as error:
            show_on_form(form, error)
        else:
            flash(_("Two-factor authentication is off."), "success")
            return redirect(url_for("auth.security"))
    return render_template("auth/two_factor_on.html", form=form, action=forms.ActionForm(),
                           recovery_left=totp.remaining_recovery_codes(current_user)), 400


@bp.post("/account/two-factor/recovery-codes")
@recent_auth_required
def new_recovery_codes():
    form = forms.ActionForm()
    if not form.validate_on_submit() or not current_user.totp_secret:
        abort(400)
    codes = totp.new_recovery_codes(current_user)
    return render_template("auth/recovery_codes.html", codes=codes,
                           next=url_for("auth.security"))
