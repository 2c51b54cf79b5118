"""Vouching pages (issue 16 item 1): members answer requests to join on
/hubs/<slug>/vouching; leads read who vouched for whom on
/hubs/<slug>/organise/vouches (two-factor, audited). Both answer 404 to
anyone else, like a hub without such a page (R8)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField

from community.auth.decorators import login_required
from community.hubs.models import Hub
from community.hubs.settings.routes import organiser_page
from community.hubs.vouching import services
from community.permissions import HubAction, hub_or_404
from community.transaction import writes

bp = Blueprint("vouching", __name__)

__all__ = ["bp"]


class VouchForm(FlaskForm):
    """The two buttons of one request: ``choice`` is ``vouch`` or ``decline``."""

    choice = HiddenField()


@bp.get("/hubs/<slug>/vouching")
@login_required
def requests(slug: str):
    hub, _membership = hub_or_404(slug, current_user, HubAction.VOUCH)
    return render_template("hubs/vouching.html", hub=hub,
                           waiting=services.requests_to_answer(hub, current_user),
                           needed=services.vouches_needed(hub), form=VouchForm())


@bp.post("/hubs/<slug>/vouching/<membership_id>")
@login_required
def answer(slug: str, membership_id: str):
    hub, _membership = hub_or_404(slug, current_user, HubAction.VOUCH)
    form = VouchForm()
    if not form.validate_on_submit() or form.choice.data not in ("vouch", "decline"):
        abort(400)
    try:
        membership = services.answer(current_user, hub, membership_id,
                                     vouch=form.choice.data == "vouch")
    except services.VouchError:
        abort(404)
    if form.choice.data == "vouch":
        flash(_("You vouched for %(name)s.", name=membership.shown_name), "success")
    else:
        flash(_("The request is off your list. Nobody will learn that you did not vouch."),
              "info")
    return redirect(url_for("vouching.requests", slug=hub.slug))


@bp.get("/hubs/<slug>/organise/vouches")
@organiser_page(HubAction.VIEW_VOUCHES)
@writes  # each reading is audited
def sponsors(hub: Hub, membership):
    return render_template("hubs/organise_vouches.html", hub=hub,
                           rows=services.sponsors(current_user, hub))
