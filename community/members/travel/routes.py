"""Travel mode's page: /travel (and /account/travel), one switch each way.

Turning it on needs only the button (and CSRF): someone about to cross a
border must be able to do it in a hurry. Turning it off needs the password and
the second factor, so a phone taken at the border cannot undo it.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from community.auth.forms import ActionForm, ConfirmForm
from community.auth.sessions import current_session
from community.auth.throttle import Throttled
from community.errors import show_on_form
from community.main.routes import too_many_attempts
from community.members.travel import services
from community.permissions import travelling

bp = Blueprint("travel", __name__)

__all__ = ["bp"]


@bp.get("/travel")
@login_required
def short():
    return redirect(url_for("travel.travel"))


def _page(form: ConfirmForm | None = None, status: int = 200):
    return render_template("members/travel.html", on=travelling(current_user),
                           on_form=ActionForm(),
                           off_form=form or ConfirmForm(formdata=None)), status


@bp.get("/account/travel")
@login_required
def travel():
    return _page()


@bp.post("/account/travel/on")
@login_required
def turn_on():
    if not ActionForm().validate_on_submit():
        abort(400)
    signed_out = services.turn_on(current_user._get_current_object(), keep=current_session())
    flash(_("Travel mode is on."), "success")
    if signed_out:
        flash(ngettext("%(num)d other device was signed out.",
                       "%(num)d other devices were signed out.", signed_out), "info")
    return redirect(url_for("members.dashboard"))


@bp.post("/account/travel/off")
@login_required
def turn_off():
    form = ConfirmForm()
    if not travelling(current_user):
        return redirect(url_for("travel.travel"))
    if not form.validate_on_submit():
        return _page(form, 400)
    try:
        services.turn_off(current_user._get_current_object(), password=form.password.data or "",
                          code=form.code.data or "")
    except Throttled as error:
        return too_many_attempts(error.retry_after)
    except services.auth_services.AuthError as error:
        show_on_form(form, error)
        return _page(form, 400)
    flash(_("Travel mode is off. Your hubs, answers and emails are back."), "success")
    return redirect(url_for("members.dashboard"))

