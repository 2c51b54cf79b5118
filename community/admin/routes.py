"""The admin area (/admin): overview, people, audit trail and reports.

Every route is for site admins only; anyone else gets 404 (R8) before any
two-factor or re-authentication prompt, so the area does not reveal who is
staff. Admins need two-factor authentication and a password or code
confirmed in the last 10 minutes (R20).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_number
from flask_babel import gettext as _
from flask_login import current_user

from community.admin import services
from community.admin.forms import (
    HUB_STATUS_LABELS,
    REPORT_ACTIONS,
    ButtonForm,
    ChapterEditForm,
    ChapterForm,
    ConfirmForm,
    CoordinatorForm,
    HubFilterForm,
    LeadForm,
    ReportActionForm,
    UserSearchForm,
    audit_filters,
    audit_query_args,
)
from community.auth.decorators import recent_auth_required, two_factor_required
from community.errors import show_on_form
from community.extensions import login_manager
from community.hubs.organise.forms import role_label
from community.hubs.services import chapter_by_code
from community.i18n import localized, timezone_names
from community.pagination import int_arg
from community.permissions import is_admin

bp = Blueprint("admin", __name__)


@bp.context_processor
def version_for_the_footer() -> dict:
    """The admin area's footer names the running version; public pages do not."""
    from community import __version__

    return {"harbour_version": __version__}

USER = "/users/<public_id>"


@two_factor_required
@recent_auth_required
def _staff_checks():
    return None


@bp.before_request
def only_admins():
    """Sign in, then 404 for non-admins, then two-factor, then recent re-auth."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not is_admin(current_user):
        abort(404)
    return _staff_checks()


# --- overview ----------------------------------------------------------------

@bp.get("/")
def overview():
    months = services.rsvps_per_month()
    return render_template(
        "admin/overview.html", stats=services.chapter_stats(), months=months,
        month_label=services.month_label, format_number=format_number,
        open_reports=services.open_reports(per_page=1).total,
    )


@bp.get("/rsvps.svg")
def rsvp_chart():
    svg = services.rsvp_chart_svg(services.rsvps_per_month())
    return Response(svg, mimetype="image/svg+xml")


# --- people ------------------------------------------------------------------

@bp.get("/users")
def users():
    form = UserSearchForm(formdata=request.args)
    query = form.q.data if form.validate() else ""
    page = services.search_users(query or "", int_arg("page"))
    return render_template("admin/users.html", form=form, page=page, query=query)


def _user_or_404(public_id: str):
    user = services.user_by_public_id(public_id)
    if user is None:
        abort(404)
    return user


def _user_page(user, *, errors: list[str] | None = None, status: int = 200):
    return render_template(
        "admin/user.html", user=user, memberships=services.memberships_of(user),
        chapter_roles=services.chapter_roles_of(user), button=ButtonForm(formdata=None),
        errors=errors or [], role_label=role_label,
    ), status


@bp.get(USER)
def user(public_id: str):
    return _user_page(_user_or_404(public_id))


def _change(public_id: str, change, done: str):
    user = _user_or_404(public_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        change(current_user, user)
    except services.AdminError as error:
        return _user_page(user, errors=[error.message], status=400)
    flash(done % {"name": user.display_name}, "success")
    return redirect(url_for("admin.user", public_id=user.public_id))


@bp.post(USER + "/disable")
def disable(public_id: str):
    return _change(public_id, services.disable,
                   _("%(name)s's account is disabled and every session of theirs has ended."))


@bp.post(USER + "/enable")
def enable(public_id: str):
    return _change(public_id, services.enable,
                   _("%(name)s's account is enabled again."))


def _confirmed_change(public_id: str, grant: bool):
    user = _user_or_404(public_id)
    form = ConfirmForm()
    errors: list[str] = []
    status = 200
    if form.validate_on_submit():
        try:
            (services.grant_admin if grant else services.revoke_admin)(current_user, user)
        except services.AdminError as error:
            errors.append(error.message)
        else:
            if grant:
                flash(_("%(name)s is now a site admin.", name=user.display_name), "success")
            else:
                flash(_("%(name)s is no longer a site admin.", name=user.display_name),
                      "success")
            return redirect(url_for("admin.user", public_id=user.public_id))
    if request.method == "POST":
        status = 400
    return render_template("admin/confirm_admin.html", user=user, form=form, grant=grant,
                           errors=errors), status


@bp.route(USER + "/grant", methods=["GET", "POST"])
def grant(public_id: str):
    return _confirmed_change(public_id, grant=True)


@bp.route(USER + "/revoke", methods=["GET", "POST"])
def revoke(public_id: str):
    return _confirmed_change(public_id, grant=False)


# --- audit trail ---------------------------------------------------------------

@bp.get("/audit")
def audit_trail():
    form, filters = audit_filters(request.args, services.audit_actions())
    page = services.audit_log(page=int_arg("page"), **filters)
    return render_template("admin/audit.html", form=form, page=page,
                           query_args=audit_query_args(filters), describe=services.describe,
                           role_label=role_label)


@bp.get("/audit.csv")
def audit_csv():
    _form, filters = audit_filters(request.args, services.audit_actions())
    return Response(
        services.audit_csv(**filters), mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="harbour-audit.csv"'},
    )


# --- reports -----------------------------------------------------------------

def _reports_page(*, failed: tuple[str, ReportActionForm] | None = None,
                  errors: list[str] | None = None, status: int = 200):
    page = services.open_reports(int_arg("page"))
    forms = {}
    for row in page.items:
        public_id = row.report.public_id
        if failed is not None and failed[0] == public_id:
            forms[public_id] = failed[1]
        else:
            forms[public_id] = ReportActionForm(formdata=None, prefix=public_id)
    return render_template("admin/reports.html", page=page, forms=forms, errors=errors or [],
                           report_actions=REPORT_ACTIONS), status


@bp.get("/reports")
def reports():
    return _reports_page()


@bp.post("/reports/<public_id>")
def resolve_report(public_id: str):
    report = services.open_report(public_id)
    if report is None:
        abort(404)
    form = ReportActionForm(prefix=report.public_id)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _reports_page(failed=(report.public_id, form), status=400)
    try:
        services.resolve_report(current_user, report, form.action.data, form.reason.data)
    except services.AdminError as error:
        return _reports_page(errors=[error.message], status=400)
    flash(_("The report is dealt with, and the person who made it has been told."), "success")
    return redirect(url_for("admin.reports", page=int_arg("page")))


# --- chapters ------------------------------------------------------------------

CHAPTER = "/chapters/<code>"


def _chapter_or_404(code: str):
    chapter = chapter_by_code(code)
    if chapter is None:
        abort(404)
    return chapter


@bp.get("/chapters")
def chapters():
    return render_template("admin/chapters.html", chapters=services.chapters(),
                           counts=services.coordinator_counts())


@bp.route("/chapters/new", methods=["GET", "POST"])
def new_chapter():
    form = ChapterForm()
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            chapter = services.create_chapter(
                current_user, code=form.code.data, name_en=form.name_en.data,
                name_zh=form.name_zh.data, default_timezone=form.default_timezone.data)
        except services.AdminError as error:
            errors = show_on_form(form, error, [])
        else:
            flash(_("The chapter %(code)s is added.", code=chapter.code), "success")
            return redirect(url_for("admin.chapter", code=chapter.code))
    if request.method == "POST" and form.csrf_token.errors:
        abort(400)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/chapter_new.html", form=form, errors=errors,
                           timezones=timezone_names()), status


def _chapter_page(chapter, *, form=None, errors=None, status: int = 200):
    if form is None:
        form = ChapterEditForm(formdata=None, obj=chapter)
    query = (request.args.get("q") or "").replace("\x00", "").strip()[:254]
    return render_template(
        "admin/chapter.html", chapter=chapter, form=form, errors=errors or [],
        coordinators=services.coordinators(chapter), query=query,
        candidates=services.coordinator_candidates(chapter, query),
        button=ButtonForm(formdata=None), timezones=timezone_names(),
    ), status


@bp.route(CHAPTER, methods=["GET", "POST"])
def chapter(code: str):
    chapter = _chapter_or_404(code)
    if request.method == "GET":
        return _chapter_page(chapter)
    form = ChapterEditForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _chapter_page(chapter, form=form, status=400)
    try:
        services.edit_chapter(current_user, chapter, name_en=form.name_en.data,
                              name_zh=form.name_zh.data,
                              default_timezone=form.default_timezone.data)
    except services.AdminError as error:
        return _chapter_page(chapter, form=form, errors=show_on_form(form, error, []), status=400)
    flash(_("The chapter is saved."), "success")
    return redirect(url_for("admin.chapter", code=chapter.code))


@bp.post(CHAPTER + "/coordinators")
def appoint_coordinator(code: str):
    chapter = _chapter_or_404(code)
    form = CoordinatorForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _chapter_page(chapter, errors=[_("Choose someone from the search results.")],
                             status=400)
    user = services.user_by_public_id(form.user.data)
    if user is None:
        return _chapter_page(chapter, errors=[_("Choose someone from the search results.")],
                             status=400)
    try:
        services.appoint_coordinator(current_user, chapter, user)
    except services.AdminError as error:
        return _chapter_page(chapter, errors=[error.message], status=400)
    flash(_("%(name)s is now a coordinator of this chapter.", name=user.display_name),
          "success")
    return redirect(url_for("admin.chapter", code=chapter.code))


@bp.post(CHAPTER + "/coordinators/<public_id>/remove")
def remove_coordinator(code: str, public_id: str):
    chapter = _chapter_or_404(code)
    user = _user_or_404(public_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        services.remove_coordinator(current_user, chapter, user)
    except services.AdminError as error:
        return _chapter_page(chapter, errors=[error.message], status=400)
    flash(_("%(name)s is no longer a coordinator of this chapter.", name=user.display_name),
          "success")
    return redirect(url_for("admin.chapter", code=chapter.code))


# --- hubs ----------------------------------------------------------------------

HUB = "/hubs/<hub_slug>"


def _hub_or_404(hub_slug: str):
    hub = services.hub_by_slug(hub_slug)
    if hub is None:
        abort(404)
    return hub


def _hub_filters() -> tuple[HubFilterForm, dict]:
    form = HubFilterForm(formdata=request.args)
    form.set_chapters([(c.code, str(localized(c, "name"))) for c in services.chapters()])
    form.validate()
    return form, {
        "chapter_code": "" if form.chapter.errors else (form.chapter.data or ""),
        "status": "" if form.status.errors else (form.status.data or ""),
    }


@bp.get("/hubs")
def hubs():
    form, filters = _hub_filters()
    page = services.list_hubs(page=int_arg("page"), **filters)
    query_args = {"chapter": filters["chapter_code"] or None,
                  "status": filters["status"] or None}
    return render_template("admin/hubs.html", form=form, page=page, query_args=query_args,
                           status_labels=HUB_STATUS_LABELS, button=ButtonForm(formdata=None))


def _hub_change(hub_slug: str, change, done: str):
    hub = _hub_or_404(hub_slug)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        change(current_user, hub)
    except services.AdminError as error:
        flash(error.message, "error")
        return redirect(url_for("admin.hubs"))
    flash(done % {"name": localized(hub, "name")}, "success")
    return redirect(url_for("admin.hubs"))


@bp.post(HUB + "/archive")
def archive_hub(hub_slug: str):
    return _hub_change(hub_slug, services.archive_hub, _("%(name)s is archived."))


@bp.post(HUB + "/restore")
def restore_hub(hub_slug: str):
    return _hub_change(hub_slug, services.restore_hub, _("%(name)s is active again."))


@bp.route(HUB + "/lead", methods=["GET", "POST"])
def hub_lead(hub_slug: str):
    hub = _hub_or_404(hub_slug)
    members = services.active_members_of(hub)
    form = LeadForm()
    form.set_members([(m.public_id, f"{m.user.display_name} ({role_label(m.role)})")
                      for m in members])
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            membership = services.change_lead(current_user, hub, form.member.data)
        except services.AdminError as error:
            errors = show_on_form(form, error, [])
        else:
            flash(_("%(name)s is now the lead of this hub.",
                    name=membership.user.display_name), "success")
            return redirect(url_for("admin.hubs"))
    if request.method == "POST" and form.csrf_token.errors:
        abort(400)
    status = 400 if request.method == "POST" else 200
    leads = [m for m in members if m.role.value == "lead"]
    return render_template("admin/hub_lead.html", hub=hub, form=form, errors=errors,
                           leads=leads, has_members=bool(members)), status
