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
    REPORT_ACTIONS,
    AuditFilterForm,
    ButtonForm,
    ConfirmForm,
    ReportActionForm,
    UserSearchForm,
    parse_date,
)
from community.auth.decorators import recent_auth_required, two_factor_required
from community.extensions import db, login_manager
from community.hubs.organise_forms import role_label
from community.hubs.routes import int_arg
from community.permissions import is_admin

bp = Blueprint("admin", __name__)

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
        db.session.rollback()
        return _user_page(user, errors=[error.message], status=400)
    db.session.commit()
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
            db.session.rollback()
            errors.append(error.message)
        else:
            db.session.commit()
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

def _audit_filters() -> tuple[AuditFilterForm, dict]:
    form = AuditFilterForm(formdata=request.args)
    form.set_actions([(action, services.describe(action))
                      for action in services.audit_actions()])
    form.validate()
    # Each filter that passed its check applies; one bad field does not
    # throw away the others.
    filters = {
        "actor_name": "" if form.actor.errors else (form.actor.data or ""),
        "action": "" if form.action.errors else (form.action.data or ""),
        "since": None if form.since.errors else parse_date(form.since.data),
        "until": None if form.until.errors else parse_date(form.until.data),
    }
    return form, filters


def _query_args(filters: dict) -> dict:
    return {
        "actor": filters["actor_name"] or None,
        "action": filters["action"] or None,
        "since": filters["since"].isoformat() if filters["since"] else None,
        "until": filters["until"].isoformat() if filters["until"] else None,
    }


@bp.get("/audit")
def audit_trail():
    form, filters = _audit_filters()
    page = services.audit_log(page=int_arg("page"), **filters)
    return render_template("admin/audit.html", form=form, page=page,
                           query_args=_query_args(filters), describe=services.describe,
                           role_label=role_label)


@bp.get("/audit.csv")
def audit_csv():
    _form, filters = _audit_filters()
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
        db.session.rollback()
        return _reports_page(errors=[error.message], status=400)
    db.session.commit()
    flash(_("The report is dealt with, and the person who made it has been told."), "success")
    return redirect(url_for("admin.reports", page=int_arg("page")))
