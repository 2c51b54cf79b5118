"""The member area: dashboard, settings, data export and account deletion."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from community.auth.decorators import recent_auth_required
from community.auth.forms import ActionForm
from community.auth.throttle import Throttled
from community.database import utcnow
from community.errors import show_on_form
from community.events.door import services as door_services
from community.i18n import localized, timezone_names
from community.main.routes import too_many_attempts
from community.members import forms, services
from community.members.travel.services import strip_for_travel
from community.permissions import runs_hub, travelling

bp = Blueprint("members", __name__)


@bp.get("/dashboard")
@login_required
def dashboard():
    if travelling(current_user):
        # A new member's dashboard, with no hint of travel mode (issue 16).
        return render_template("members/dashboard.html", hubs=[], organising=set(), rsvps=[],
                               updates=[], door_duties=[], action=ActionForm())
    hubs = services.my_hubs(current_user)
    return render_template(
        "members/dashboard.html",
        hubs=hubs,
        organising={membership.id for membership in hubs if runs_hub(membership)},
        rsvps=services.my_upcoming_rsvps(current_user),
        updates=services.latest_from_my_hubs(current_user),
        door_duties=door_services.my_duties(current_user),
        action=ActionForm(),
    )


def _names_page(failed: forms.HubNameForm | None = None, failed_id: str = "",
                status: int = 200):
    rows = []
    for membership in services.my_hub_names(current_user):
        if failed is not None and membership.public_id == failed_id:
            form = failed
        else:
            form = forms.HubNameForm(prefix=membership.public_id, formdata=None,
                                     data={"name": membership.hub_display_name})
        rows.append((membership, form))
    return render_template("members/names.html", rows=rows), status


@bp.get("/account/names")
@login_required
def names():
    return _names_page()


@bp.post("/account/names/<membership_id>")
@login_required
def set_name(membership_id: str):
    form = forms.HubNameForm(prefix=membership_id)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _names_page(form, membership_id, 400)
    try:
        membership = services.set_hub_name(current_user, membership_id, form.name.data or "")
    except services.AccountError as error:
        if error.field is None:
            abort(404)
        show_on_form(form, error)
        return _names_page(form, membership_id, 400)
    flash(_("In %(hub)s you are now shown as %(name)s.",
            hub=localized(membership.hub, "name").text, name=membership.shown_name), "success")
    return redirect(url_for("members.names"))


@bp.route("/account/settings", methods=["GET", "POST"])
@login_required
def settings():
    # The stored values fill the form on GET only: a POST stands on what was sent.
    form = forms.SettingsForm(obj=current_user if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            services.update_settings(
                current_user,
                display_name=form.display_name.data,
                locale=form.locale.data,
                timezone=form.timezone.data,
                date_format=form.date_format.data or "",
                notify_events=form.notify_events.data,
                notify_updates=form.notify_updates.data,
                notify_reminders=form.notify_reminders.data,
                notify_waitlist=form.notify_waitlist.data,
                weekly_digest=form.weekly_digest.data,
            )
        except services.AccountError as error:
            show_on_form(form, error)
        else:
            # Said in the language just chosen, which the next page will use.
            with force_locale(current_user.locale):
                flash(_("Your settings are saved."), "success")
            return redirect(url_for("members.settings"))
    return render_template("members/settings.html", form=form,
                           timezones=timezone_names())


@bp.route("/account/export", methods=["GET", "POST"])
@recent_auth_required
def export():
    form = ActionForm()
    if request.method == "GET":
        return render_template("members/export.html", form=form)
    if not form.validate_on_submit():
        abort(400)
    data = services.export_user_data(current_user)
    if travelling(current_user):
        data = strip_for_travel(data)
    services.record_export(current_user)
    filename = f"harbour-export-{utcnow().date().isoformat()}.json"
    # Downloaded, never emailed (R42).
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2) + "\n",
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/account/delete", methods=["GET", "POST"])
@recent_auth_required
def delete_account():
    form = forms.DeleteAccountForm()
    if form.validate_on_submit():
        try:
            services.delete_account(current_user, form.password.data)
        except Throttled as error:
            return too_many_attempts(error.retry_after)
        except services.AccountError as error:
            show_on_form(form, error)
        else:
            session.clear()
            flash(_("Your account is deleted. Thank you for having been part of Harbour."),
                  "success")
            response = redirect(url_for("main.home"))
            response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
            return response
    return render_template("members/delete.html", form=form)
