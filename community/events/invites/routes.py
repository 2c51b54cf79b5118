"""Invite links to invite-only events (routes on the events blueprint).

Organisers make and revoke an event's links on its invites page (404 to
everyone else, two-factor on, R8, R20). The links themselves reuse the hub
invite machinery in hubs.settings_services: only the token's SHA-256 is
stored, the link is shown once, making and revoking are audited, and every
link that no longer works gives the same 404 page. Accepting a link answers
the event through events.services.rsvp (going, waitlisted or pending, by the
event's own rules), and that RSVP is what lets the person see it afterwards.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from community.auth.decorators import login_required, two_factor_required, verified_required
from community.events import services as event_services
from community.events.manage import services as manage_services
from community.events.manage.routes import event_organiser_page
from community.events.models import Audience, Event, RsvpStatus
from community.events.routes import answered
from community.hubs.settings import services as invite_services
from community.hubs.settings.forms import InviteActionForm, InviteForm
from community.security import absolute_url

bp = Blueprint("event_invites", __name__)

__all__ = ["bp"]


def invite_unavailable():
    """One page, one status for unknown, expired, revoked and used-up links."""
    return render_template("events/invite_invalid.html"), 404


# --- organisers ------------------------------------------------------------------

def render_invites(event: Event, form: InviteForm):
    return render_template("events/invites.html", event=event, form=form,
                           invites=invite_services.active_invites(event.hub, event),
                           action_form=InviteActionForm(),
                           invite_only=event.audience is Audience.INVITE)


@bp.get("/events/<public_id>/invites", endpoint="invites")
@event_organiser_page
def invites(event: Event):
    return render_invites(event, InviteForm(formdata=None))


@bp.post("/events/<public_id>/invites", endpoint="create_invite")
@event_organiser_page
def create_invite(event: Event):
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invite, token = invite_services.create_invite(
                event.hub, current_user, expires_in_days=form.expires_in_days.data,
                max_uses=form.max_uses.data, event=event)
        except invite_services.NotAllowed:
            abort(404)
        except invite_services.SettingsError as error:
            field = getattr(form, error.field, None) if error.field else None
            if field is not None:
                field.errors = [*field.errors, error.message]
            else:
                flash(error.message, "error")
        else:
            # Shown in this response only: the database keeps just the hash.
            return render_template("events/invite_created.html", event=event, invite=invite,
                                   link=absolute_url("event_invites.invite", token=token))
    return render_invites(event, form)


@bp.post("/events/<public_id>/invites/<invite_id>/revoke", endpoint="revoke_invite")
@login_required
def revoke_invite(public_id: str, invite_id: str):
    # event_organiser_page takes the event id alone; the same checks, in its order.
    event = manage_services.event_for_organiser(public_id, current_user)
    if event is None:
        abort(404)
    g.noindex = True
    return two_factor_required(lambda: _revoke(event, invite_id))()


def _revoke(event: Event, invite_id: str):
    invite = invite_services.invite_of_hub(event.hub, invite_id, event)
    if invite is None:
        abort(404)
    if not InviteActionForm().validate_on_submit():
        abort(400)
    try:
        invite_services.revoke_invite(event.hub, invite, current_user, event)
    except invite_services.NotAllowed:
        abort(404)
    flash(_("The invite link is revoked. It no longer works."), "success")
    return redirect(url_for("event_invites.invites", public_id=event.public_id))


# --- the person invited ------------------------------------------------------------

@bp.get("/events/invite/<token>", endpoint="invite")
@verified_required
def invite_page(token: str):
    g.noindex = True
    try:
        _invite, event = invite_services.event_invite_for_token(token)
    except invite_services.InviteUnavailable:
        return invite_unavailable()
    viewer = event_services.viewer_for(event, current_user)
    answered = viewer.rsvp is not None and viewer.rsvp.status is not RsvpStatus.DECLINED
    return render_template("events/invite.html", event=event, token=token,
                           answered=answered, form=InviteActionForm())


@bp.post("/events/invite/<token>", endpoint="accept_invite")
@verified_required
def accept_invite(token: str):
    g.noindex = True
    if not InviteActionForm().validate_on_submit():
        abort(400)
    try:
        invite, event = invite_services.event_invite_for_token(token)
    except invite_services.InviteUnavailable:
        return invite_unavailable()
    public_id = event.public_id
    try:
        answer = event_services.rsvp_by_invite(invite, event, current_user)
    except invite_services.InviteUnavailable:
        return invite_unavailable()
    except event_services.AlreadyAnswered:
        # Nothing is used up by someone who has answered already.
        flash(_("You have already answered, so nothing has changed. "
                "Withdraw first to change your answer."), "info")
        return redirect(url_for("events.detail", public_id=public_id))
    except event_services.EventError as error:
        flash(error.message, "error")
        return redirect(url_for("event_invites.invite", token=token))
    return answered(answer)
