"""Hub settings, the high-risk preset and invite links (routes on the hubs blueprint).

Organiser pages answer 404 to anyone who may not use them, before anything
else is checked, so they reveal nothing about a hub (R8); people who may use
them must have two-factor authentication on (R20).
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from community.auth.decorators import login_required, two_factor_required, verified_required
from community.errors import show_on_form
from community.hubs import services as hub_services
from community.hubs.models import Hub
from community.hubs.settings import services as services
from community.hubs.settings.forms import (
    HighRiskForm,
    HubSettingsForm,
    InviteActionForm,
    InviteForm,
)
from community.i18n import timezone_names
from community.permissions import (
    HubAction,
    hub_or_404,
    membership_of,
    request_hidden_from_search,
)
from community.security import absolute_url

bp = Blueprint("hub_settings", __name__)

__all__ = ["bp"]

ROBOTS = "noindex, nofollow"


# --- search engines --------------------------------------------------------------

@bp.after_app_request
def robots_header(response):
    """Send ``X-Robots-Tag: noindex, nofollow`` with pages of hubs that must stay
    out of search engines (DESIGN §2 rule 1), beside the robots meta tag.

    A view sets ``g.noindex`` (through ``permissions.decide_indexing``, or True
    on staff pages) once it has checked permission; otherwise any page under
    /hubs/<slug> looks the hub up here. base.html emits the meta tag from the
    same flag.
    Only successful pages get the header, so a 404 or a redirect for a hidden
    hub stays identical to one for a hub that does not exist (R8).
    """
    if 200 <= response.status_code < 300 and request_hidden_from_search():
        response.headers["X-Robots-Tag"] = ROBOTS
    return response


# --- guards and helpers ----------------------------------------------------------

def organiser_page(action: HubAction):
    """Signed in; 404 unless the user may do ``action`` to the hub; then two-factor
    on (R20). The view receives the hub and the user's membership."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(slug: str, **kwargs):
            hub, membership = hub_or_404(slug, current_user, action)
            # Organiser pages are never for search engines, whatever the hub says.
            g.noindex = True
            return two_factor_required(lambda: view(hub, membership, **kwargs))()

        return wrapped

    return decorate


def invite_unavailable():
    """One page, one status for unknown, expired, revoked and used-up links, so
    it never tells whether a token existed."""
    return render_template("hubs/invite_invalid.html"), 404


# --- settings --------------------------------------------------------------------

@bp.route("/hubs/<slug>/settings", methods=["GET", "POST"], endpoint="settings")
@organiser_page(HubAction.EDIT)
def settings_page(hub: Hub, membership):
    # Stored values fill the form on GET only: a POST stands on what was sent.
    form = HubSettingsForm(data=services.settings_of(hub) if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            changed = services.update_settings(
                hub, current_user,
                name_en=form.name_en.data, name_zh=form.name_zh.data,
                description_en=form.description_en.data,
                description_zh=form.description_zh.data,
                city_en=form.city_en.data, city_zh=form.city_zh.data,
                timezone=form.timezone.data, visibility=form.visibility.data,
                join_policy=form.join_policy.data, join_question=form.join_question.data,
                rsvp_approval_default=form.rsvp_approval_default.data,
                attendee_count_display=form.attendee_count_display.data,
                keep_checkin_records=form.keep_checkin_records.data,
                noindex=form.noindex.data, allow_comments=form.allow_comments.data,
                show_authors=form.show_authors.data,
                vouches_required=form.vouches_required.data,
                attendee_list_two_keys=form.attendee_list_two_keys.data,
            )
        except services.NotAllowed:
            abort(404)
        except services.SettingsError as error:
            # Refused before anything changed: the form shows why, input intact.
            show_on_form(form, error)
        else:
            if changed:
                flash(_("The hub's settings are saved."), "success")
            else:
                flash(_("Nothing was changed."), "info")
            return redirect(url_for("hub_settings.settings", slug=hub.slug))
    return render_template("hubs/settings.html", hub=hub, form=form,
                           high_risk_form=HighRiskForm(),
                           protections=services.protections(hub),
                           timezones=timezone_names())


@bp.post("/hubs/<slug>/settings/high-risk", endpoint="high_risk")
@organiser_page(HubAction.EDIT)
def high_risk(hub: Hub, membership):
    form = HighRiskForm()
    if not form.validate_on_submit():
        for error in form.state.errors:
            flash(error, "error")
        return redirect(url_for("hub_settings.settings", slug=hub.slug))
    on = form.state.data == "on"
    try:
        changed = services.set_high_risk(hub, current_user, on)
    except services.NotAllowed:
        abort(404)
    if on:
        flash(_("The high-risk preset is on. Every protection below is now on."), "success")
    elif changed:
        flash(_("The high-risk preset is off. Each protection stays as it was until you "
                "change it."), "success")
    else:
        flash(_("The high-risk preset was already off."), "info")
    return redirect(url_for("hub_settings.settings", slug=hub.slug))


# --- invites (organisers) --------------------------------------------------------

def render_invites(hub: Hub, form: InviteForm):
    return render_template("hubs/settings_invites.html", hub=hub, form=form,
                           invites=services.active_invites(hub),
                           action_form=InviteActionForm())


@bp.get("/hubs/<slug>/settings/invites", endpoint="invites")
@organiser_page(HubAction.MANAGE_MEMBERS)
def invites(hub: Hub, membership):
    return render_invites(hub, InviteForm(formdata=None))


@bp.post("/hubs/<slug>/settings/invites", endpoint="create_invite")
@organiser_page(HubAction.MANAGE_MEMBERS)
def create_invite(hub: Hub, membership):
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invite, token = services.create_invite(
                hub, current_user, expires_in_days=form.expires_in_days.data,
                max_uses=form.max_uses.data)
        except services.NotAllowed:
            abort(404)
        except services.SettingsError as error:
            # Refused before anything changed: the form shows why, input intact.
            show_on_form(form, error)
        else:
            # Shown in this response only, never stored or redirected with: the
            # database keeps just the hash, so the link cannot be shown again.
            return render_template("hubs/invite_created.html", hub=hub, invite=invite,
                                   link=absolute_url("hub_settings.invite", token=token))
    return render_invites(hub, form)


@bp.post("/hubs/<slug>/settings/invites/<invite_id>/revoke", endpoint="revoke_invite")
@organiser_page(HubAction.MANAGE_MEMBERS)
def revoke_invite(hub: Hub, membership, invite_id: str):
    invite = services.invite_of_hub(hub, invite_id)
    if invite is None:
        abort(404)
    if not InviteActionForm().validate_on_submit():
        abort(400)
    try:
        services.revoke_invite(hub, invite, current_user)
    except services.NotAllowed:
        abort(404)
    flash(_("The invite link is revoked. It no longer works."), "success")
    return redirect(url_for("hub_settings.invites", slug=hub.slug))


# --- invites (the person invited) ------------------------------------------------

@bp.get("/invite/<token>", endpoint="invite")
def invite_page(token: str):
    g.noindex = True
    try:
        _invite, hub = services.invite_for_token(token)
    except services.InviteUnavailable:
        return invite_unavailable()
    return render_template("hubs/invite.html", hub=hub, token=token,
                           membership=membership_of(current_user, hub),
                           form=InviteActionForm())


@bp.post("/invite/<token>", endpoint="accept_invite")
@verified_required
def accept_invite(token: str):
    g.noindex = True
    if not InviteActionForm().validate_on_submit():
        abort(400)
    try:
        membership = services.accept_invite(current_user, token)
    except services.InviteUnavailable:
        return invite_unavailable()
    except services.AlreadyMember as already:
        flash(_("You are already a member of this hub."), "info")
        return redirect(url_for("hubs.detail", slug=already.hub.slug))
    except hub_services.HubError as error:
        # Nothing is kept of a failed join: not even the use of the invite.
        flash(error.message, "error")
        return redirect(url_for("hub_settings.invite", token=token))
    flash(_("Welcome! You are now a member of this hub."), "success")
    return redirect(url_for("hubs.detail", slug=membership.hub.slug))
