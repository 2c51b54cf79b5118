"""Hub registration pages (routes on the hubs blueprint): a verified member
proposes a hub; the chapter's coordinators and site admins approve or decline it.

The decision pages answer 404 to everyone who may not decide, before asking
staff for two-factor authentication, so they reveal nothing to others (R8).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from community.auth.decorators import login_required, two_factor_required, verified_required
from community.errors import show_on_form
from community.extensions import limiter
from community.hubs.models import Chapter, Hub, HubVisibility, JoinPolicy
from community.hubs.registration import services as services
from community.hubs.registration.forms import (
    JOIN_POLICY_CHOICES,
    VISIBILITY_CHOICES,
    ApproveRegistrationForm,
    DeclineRegistrationForm,
    RegisterHubForm,
    choice_labels,
    decline_prefix,
)
from community.hubs.services import chapter_by_code, chapters
from community.i18n import localized, timezone_names
from community.permissions import HubAction, hub_or_404, is_chapter_staff

bp = Blueprint("registration", __name__)

__all__ = ["bp"]

# Each refused address tells whether some hub uses it; a cap keeps that slow to probe.
REGISTER_LIMIT = "30 per hour;100 per day"
# The form fields passed to the service as text, and nothing else (R10).
TEXT_FIELDS = ("name_en", "name_zh", "description_en", "description_zh", "city_en", "city_zh",
               "timezone", "join_question", "slug")


@bp.route("/hubs/register", methods=["GET", "POST"])
@verified_required
@limiter.limit(REGISTER_LIMIT, methods=["POST"])
def register():
    all_chapters = chapters()
    form = RegisterHubForm()
    form.chapter.choices = [SelectChoice("", _("Choose a chapter"))] + [
        SelectChoice(chapter.code, name.text, render_kw={"lang": name.lang})
        for chapter in all_chapters for name in [localized(chapter, "name")]]
    if request.method == "GET":
        chosen = chapter_by_code(request.args.get("chapter"))
        if chosen is not None:
            form.chapter.data = chosen.code
            form.timezone.data = chosen.default_timezone
    if form.validate_on_submit():
        try:
            hub = services.register_hub(
                current_user, form.chapter.data or "",
                join_policy=JoinPolicy(form.join_policy.data),
                visibility=HubVisibility(form.visibility.data),
                **{name: getattr(form, name).data or "" for name in TEXT_FIELDS},
            )
        except services.RegistrationError as error:
            show_on_form(form, error)
        else:
            flash(_("Thank you. A coordinator of the chapter will look at your hub soon."),
                  "success")
            return redirect(url_for("hubs.detail", slug=hub.slug))
    return render_template("hubs/register.html", form=form,
                           timezones=timezone_names())


def _queue_page(chapter: Chapter, failed: DeclineRegistrationForm | None = None,
                failed_slug: str = ""):
    """The queue, with the decline form that failed (errors and input kept) in place."""
    pending = services.pending_registrations(chapter)
    decline_forms = {
        item.hub.slug: failed if item.hub.slug == failed_slug and failed is not None
        else DeclineRegistrationForm(prefix=decline_prefix(item.hub.slug), formdata=None)
        for item in pending
    }
    return render_template(
        "hubs/registrations.html", chapter=chapter, pending=pending,
        decline_forms=decline_forms, approve_form=ApproveRegistrationForm(),
        policy_labels=choice_labels(JOIN_POLICY_CHOICES),
        visibility_labels=choice_labels(VISIBILITY_CHOICES),
    )


@bp.get("/chapters/<code>/registrations")
@login_required
def registrations(code: str):
    chapter = chapter_by_code(code)
    if chapter is None or not is_chapter_staff(current_user, chapter):
        abort(404)
    return _staff_queue(chapter)


@two_factor_required
def _staff_queue(chapter: Chapter):
    return _queue_page(chapter)


def _decidable_hub(slug: str) -> Hub:
    """The pending hub with this address if the current user may decide on it; else 404."""
    if "\x00" in slug:
        abort(404)
    hub, _membership = hub_or_404(slug, current_user, HubAction.DECIDE_REGISTRATION)
    return hub


def _back_to_queue(hub: Hub):
    return redirect(url_for("registration.registrations", code=hub.chapter.code))


@bp.post("/hubs/<slug>/registration/approve")
@login_required
def approve_registration(slug: str):
    return _approve(_decidable_hub(slug))


@two_factor_required
def _approve(hub: Hub):
    if not ApproveRegistrationForm().validate_on_submit():
        abort(400)
    try:
        services.approve_registration(hub, current_user)
    except services.RegistrationError as error:
        flash(error.message, "error")
        return _back_to_queue(hub)
    flash(_("The hub is approved, and its proposer is now its lead."), "success")
    return _back_to_queue(hub)


@bp.post("/hubs/<slug>/registration/decline")
@login_required
def decline_registration(slug: str):
    return _decline(_decidable_hub(slug))


@two_factor_required
def _decline(hub: Hub):
    form = DeclineRegistrationForm(prefix=decline_prefix(hub.slug))
    if form.validate_on_submit():
        try:
            services.decline_registration(hub, current_user, form.reason.data)
        except services.RegistrationError as error:
            if error.field is None:
                flash(error.message, "error")
                return _back_to_queue(hub)
            show_on_form(form, error)
        else:
            flash(_("The hub is declined, and its proposer is told why."), "success")
            return _back_to_queue(hub)
    return _queue_page(hub.chapter, form, hub.slug)
