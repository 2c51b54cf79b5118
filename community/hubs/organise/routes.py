"""Hub organise pages (routes on the hubs blueprint): members and the audit log.

Every page needs two-factor authentication (R20) and the right to manage the
hub's members; anyone else gets 404 (R8). Changing a role also needs a
recent re-authentication (R20).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from community import audit
from community.auth.decorators import staff_required
from community.hubs.models import Hub, MemberRole, Membership
from community.hubs.organise import services as services
from community.hubs.organise.forms import (
    AuditFilterForm,
    MemberActionForm,
    NotesForm,
    RoleForm,
    role_label,
)
from community.hubs.vouching.services import vouch_counts
from community.pagination import int_arg
from community.permissions import HubAction, hub_can, hub_or_404, hub_staff

bp = Blueprint("organise", __name__)

__all__ = ["bp"]

MEMBER = "/hubs/<slug>/organise/members/<membership_id>"


def _membership_or_404(hub: Hub, membership_id: str) -> Membership:
    membership = services.membership_in(hub, membership_id)
    if membership is None:
        abort(404)
    return membership


def _back(hub: Hub):
    return redirect(url_for("organise.organise_members", slug=hub.slug, page=int_arg("page")))


def _notes_form(membership: Membership, formdata=None) -> NotesForm:
    form = NotesForm(formdata=formdata, prefix=membership.public_id,
                     notes=membership.organiser_notes)
    form.notes.label.text = _("Private notes about %(name)s",
                              name=membership.shown_name)
    return form


def _members_page(hub: Hub, *, errors: list[str] | None = None,
                  failed: tuple[str, NotesForm] | None = None, status: int = 200):
    """The organiser's members page; after a refused POST, with the messages
    and the submitted notes form (input intact) in its row."""
    page = services.active_members(hub, int_arg("page"))
    notes_forms = {}
    for membership in page.items:
        if failed is not None and failed[0] == membership.public_id:
            notes_forms[membership.public_id] = failed[1]
        else:
            notes_forms[membership.public_id] = _notes_form(membership)
    return render_template(
        "hubs/organise_members.html", hub=hub, page=page,
        pending=services.pending_requests(hub), notes_forms=notes_forms,
        vouches=vouch_counts(hub) if hub.vouches_required else {},
        action_form=MemberActionForm(formdata=None), errors=errors or [],
        invalid_fields=[field for _id, form in ([failed] if failed else [])
                        for field in form if field.errors],
        can_manage_organisers=hub_can(current_user, HubAction.MANAGE_ORGANISERS, hub),
        can_view_audit=hub_can(current_user, HubAction.VIEW_AUDIT, hub),
        role_label=role_label,
    ), status


@bp.get("/hubs/<slug>/organise/members")
@staff_required(hub_staff(HubAction.MANAGE_MEMBERS))
def organise_members(slug: str):
    hub, _membership = hub_or_404(slug, current_user, HubAction.MANAGE_MEMBERS)
    return _members_page(hub)


def _member_action(slug: str, membership_id: str, change, done: str):
    """Shared body of approve, decline and remove: one service call, one commit."""
    hub, _membership = hub_or_404(slug, current_user, HubAction.MANAGE_MEMBERS)
    membership = _membership_or_404(hub, membership_id)
    if not MemberActionForm().validate_on_submit():
        abort(400)
    name = membership.shown_name
    try:
        change(current_user, membership)
    except services.OrganiseError as error:
        return _members_page(hub, errors=[error.message], status=400)
    flash(done % {"name": name}, "success")
    return _back(hub)


@bp.post(MEMBER + "/approve")
@staff_required(hub_staff(HubAction.MANAGE_MEMBERS))
def organise_approve(slug: str, membership_id: str):
    return _member_action(slug, membership_id, services.approve,
                          _("%(name)s is now a member of this hub. We emailed them."))


@bp.post(MEMBER + "/decline")
@staff_required(hub_staff(HubAction.MANAGE_MEMBERS))
def organise_decline(slug: str, membership_id: str):
    return _member_action(slug, membership_id, services.decline,
                          _("The request from %(name)s is declined and deleted. "
                            "We let them know."))


@bp.post(MEMBER + "/remove")
@staff_required(hub_staff(HubAction.MANAGE_MEMBERS))
def organise_remove(slug: str, membership_id: str):
    return _member_action(slug, membership_id, services.remove,
                          _("%(name)s is removed from this hub."))


@bp.post(MEMBER + "/notes")
@staff_required(hub_staff(HubAction.MANAGE_MEMBERS))
def organise_notes(slug: str, membership_id: str):
    hub, _membership = hub_or_404(slug, current_user, HubAction.MANAGE_MEMBERS)
    membership = _membership_or_404(hub, membership_id)
    form = _notes_form(membership, formdata=request.form)
    if not form.validate_on_submit():
        return _members_page(hub, failed=(membership.public_id, form), status=400)
    try:
        services.set_notes(current_user, membership, form.notes.data or "")
    except services.OrganiseError as error:
        return _members_page(hub, errors=[error.message], status=400)
    flash(_("Your notes about %(name)s are saved.", name=membership.shown_name),
          "success")
    return _back(hub)


@bp.route(MEMBER + "/role", methods=["GET", "POST"])
@staff_required(hub_staff(HubAction.MANAGE_ORGANISERS), recent_auth=True)
def organise_role(slug: str, membership_id: str):
    hub, _membership = hub_or_404(slug, current_user, HubAction.MANAGE_ORGANISERS)
    membership = _membership_or_404(hub, membership_id)
    form = RoleForm(role=membership.role.value)
    status = 200
    if form.validate_on_submit():
        try:
            services.set_role(current_user, membership, MemberRole(form.role.data))
        except services.OrganiseError as error:
            form.role.errors = [*form.role.errors, error.message]
        else:
            flash(_("%(name)s's role is now: %(role)s.", name=membership.shown_name,
                    role=role_label(membership.role)), "success")
            return _back(hub)
    if request.method == "POST":
        status = 400
    return render_template("hubs/organise_role.html", hub=hub, membership=membership,
                           form=form, role_label=role_label), status


@bp.get("/hubs/<slug>/organise/audit")
@staff_required(hub_staff(HubAction.VIEW_AUDIT))
def organise_audit(slug: str):
    hub, _membership = hub_or_404(slug, current_user, HubAction.VIEW_AUDIT)
    form = AuditFilterForm(formdata=request.args)
    form.set_actions([(action, audit.describe(action))
                      for action in services.audit_actions(hub)])
    action = form.action.data if form.validate() else ""
    page = services.audit_log(hub, action=action or "", page=int_arg("page"))
    return render_template(
        "hubs/organise_audit.html", hub=hub, page=page, form=form, action=action,
        describe=audit.describe, role_label=role_label,
        can_manage_members=hub_can(current_user, HubAction.MANAGE_MEMBERS, hub),
    )
