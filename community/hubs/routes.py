"""Public hub and chapter pages, joining and leaving."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from community.auth.decorators import login_required, verified_required
from community.hubs import services
from community.hubs.forms import JoinForm, LeaveForm, ListingForm
from community.hubs.models import MembershipStatus
from community.pagecache import cached_page
from community.pagination import int_arg
from community.permissions import (
    HubAction,
    decide_indexing,
    hub_can,
    hub_or_404,
    is_chapter_staff,
    name_in_hub,
)

bp = Blueprint("hubs", __name__)
bp.add_app_template_global(name_in_hub)


@bp.get("/hubs")
@cached_page
def directory():
    query = request.args.get("q", "")
    chapter = request.args.get("chapter", "")
    chapters = services.chapters()
    if chapter and chapter not in {c.code for c in chapters}:
        chapter = ""
    page = services.directory(query, chapter, int_arg("page"))
    decide_indexing()
    return render_template("hubs/directory.html", page=page, query=query, chapter=chapter,
                           chapters=chapters)


@bp.get("/chapters/<code>")
@cached_page
def chapter(code: str):
    chapter = services.chapter_by_code(code)
    if chapter is None:
        abort(404)
    decide_indexing()
    return render_template(
        "hubs/chapter.html", chapter=chapter, hubs=services.chapter_hubs(chapter),
        events=services.chapter_events(chapter), updates=services.chapter_updates(chapter),
        coordinators=services.coordinators(chapter),
        can_decide=is_chapter_staff(current_user, chapter),
    )


@bp.get("/hubs/<slug>")
@cached_page
def detail(slug: str):
    hub, membership = hub_or_404(slug, current_user)
    decide_indexing(hub=hub)
    member = hub_can(current_user, HubAction.VIEW_MEMBERS_AREA, hub, membership)
    return render_template(
        "hubs/detail.html", hub=hub, membership=membership, is_member=member,
        can_join=hub_can(current_user, HubAction.JOIN, hub, membership),
        can_manage=hub_can(current_user, HubAction.MANAGE_MEMBERS, hub, membership),
        can_view_audit=hub_can(current_user, HubAction.VIEW_AUDIT, hub, membership),
        can_edit=hub_can(current_user, HubAction.EDIT, hub, membership),
        events=services.hub_events(hub, members=member),
        updates=services.hub_updates(hub, members=member),
        member_count=services.member_count(hub),
        join_form=JoinForm(), leave_form=LeaveForm(),
    )


@bp.post("/hubs/<slug>/join")
@verified_required
def join(slug: str):
    hub, membership = hub_or_404(slug, current_user)
    form = JoinForm()
    if not form.validate_on_submit():
        for error in form.answer.errors:
            flash(error, "error")
        return redirect(url_for("hubs.detail", slug=slug))
    try:
        membership = services.join(current_user, hub, form.answer.data or "")
    except services.HubError as error:
        flash(error.message, "error")
        return redirect(url_for("hubs.detail", slug=slug))
    if membership.status is MembershipStatus.PENDING:
        flash(_("Thank you. The organisers will look at your request soon."), "success")
    else:
        flash(_("Welcome! You are now a member of this hub."), "success")
    return redirect(url_for("hubs.detail", slug=slug))


@bp.post("/hubs/<slug>/leave")
@login_required
def leave(slug: str):
    hub, _membership = hub_or_404(slug, current_user)
    if not LeaveForm().validate_on_submit():
        abort(400)
    try:
        services.leave(current_user, hub)
    except services.HubError as error:
        flash(error.message, "error")
        return redirect(url_for("hubs.detail", slug=slug))
    flash(_("You have left the hub."), "success")
    if hub_can(current_user, HubAction.VIEW, hub):
        return redirect(url_for("hubs.detail", slug=slug))
    return redirect(url_for("members.dashboard"))


@bp.route("/hubs/<slug>/members", methods=["GET", "POST"])
@login_required
def members(slug: str):
    hub, membership = hub_or_404(slug, current_user, HubAction.VIEW_MEMBERS_AREA)
    decide_indexing(public=False)
    form = ListingForm()
    active = membership is not None and membership.status is MembershipStatus.ACTIVE
    if request.method == "GET" and active:
        form.listed.data = membership.listed_to_members
    if form.validate_on_submit() and active:
        services.set_listing(membership, bool(form.listed.data))
        flash(_("Your choice is saved."), "success")
        return redirect(url_for("hubs.members", slug=slug))
    return render_template("hubs/members.html", hub=hub, membership=membership, form=form,
                           names=services.listed_members(hub),
                           member_count=services.member_count(hub))


