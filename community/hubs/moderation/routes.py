"""Moderation and the audit trail below site level (routes on the hubs blueprint).

Hub leads moderate their hub's reports and export its audit log; a chapter's
coordinators (and site admins) moderate reports in the chapter and read its
audit trail. The decisions are the admin queue's, through the same service,
except disabling an account, which stays with site admins. Everyone else
gets 404 (R8); staff need two-factor authentication (R20).
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf

from community import audit
from community.admin import services as admin_services
from community.admin.forms import (
    REPORT_ACTIONS,
    ReportActionForm,
    audit_filters,
    audit_query_args,
)
from community.auth.decorators import staff_gate, staff_required
from community.hubs.organise import services as organise_services
from community.hubs.organise.forms import AuditFilterForm as HubAuditFilterForm
from community.hubs.organise.forms import role_label
from community.hubs.services import chapter_by_code
from community.pagination import int_arg
from community.permissions import HubAction, hub_or_404, hub_staff, is_chapter_staff

bp = Blueprint("moderation", __name__)

__all__ = ["bp"]

# Disabling an account is for site admins only.
SCOPED_ACTIONS = {key: label for key, label in REPORT_ACTIONS.items() if key != "disable"}


class ScopedReportActionForm(ReportActionForm):
    """The admin queue's decision form without "disable the author"."""

    action = RadioField(
        _l("Decision"),
        choices=[SelectChoice(value, label) for value, label in SCOPED_ACTIONS.items()],
        validate_choice=False,
        validators=[AnyOf(list(SCOPED_ACTIONS), message=_l("Choose one of the decisions."))],
    )


def chapter_staff(view):
    """Signed in, then 404 unless a coordinator of the chapter or a site admin,
    then two-factor. The view receives the chapter instead of its code."""

    @wraps(view)
    @login_required
    def wrapped(code: str, **kwargs):
        chapter = chapter_by_code(code)
        if chapter is None or not is_chapter_staff(current_user, chapter):
            abort(404)
        return staff_gate() or view(chapter, **kwargs)

    return wrapped


# --- reports -------------------------------------------------------------------

def _queue(scope, *, heading_of, endpoint: str, args: dict,
           failed: tuple[str, ScopedReportActionForm] | None = None,
           errors: list[str] | None = None, status: int = 200):
    page = admin_services.open_reports(int_arg("page"), scope=scope)
    forms = {}
    for row in page.items:
        public_id = row.report.public_id
        if failed is not None and failed[0] == public_id:
            forms[public_id] = failed[1]
        else:
            forms[public_id] = ScopedReportActionForm(formdata=None, prefix=public_id)
    return render_template("hubs/moderation.html", page=page, forms=forms,
                           errors=errors or [], heading_of=heading_of, endpoint=endpoint,
                           args=args), status


def _decide(scope, report_id: str, *, queue, back: str):
    report = admin_services.open_report(report_id, scope=scope)
    if report is None:
        abort(404)
    form = ScopedReportActionForm(prefix=report.public_id)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return queue(failed=(report.public_id, form), status=400)
    try:
        admin_services.resolve_report(current_user, report, form.action.data,
                                      form.reason.data, may_disable=False)
    except admin_services.AdminError as error:
        return queue(errors=[error.message], status=400)
    flash(_("The report is dealt with, and the person who made it has been told."), "success")
    return redirect(back)


def _hub_queue(hub, **kwargs):
    return _queue(admin_services.Scope.of_hub(hub), heading_of=hub,
                  endpoint="moderation.moderation", args={"slug": hub.slug}, **kwargs)


@bp.get("/hubs/<slug>/moderation")
@staff_required(hub_staff(HubAction.VIEW_AUDIT))
def moderation(slug: str):
    hub, _membership = hub_or_404(slug, current_user, HubAction.VIEW_AUDIT)
    return _hub_queue(hub)


@bp.post("/hubs/<slug>/moderation/<report_id>")
@staff_required(hub_staff(HubAction.VIEW_AUDIT))
def moderation_decide(slug: str, report_id: str):
    hub, _membership = hub_or_404(slug, current_user, HubAction.VIEW_AUDIT)
    return _decide(admin_services.Scope.of_hub(hub), report_id,
                   queue=lambda **kw: _hub_queue(hub, **kw),
                   back=url_for("moderation.moderation", slug=hub.slug, page=int_arg("page")))


def _chapter_queue(chapter, **kwargs):
    return _queue(admin_services.Scope.of_chapter(chapter), heading_of=chapter,
                  endpoint="moderation.chapter_moderation", args={"code": chapter.code}, **kwargs)


@bp.get("/chapters/<code>/moderation")
@chapter_staff
def chapter_moderation(chapter):
    return _chapter_queue(chapter)


@bp.post("/chapters/<code>/moderation/<report_id>")
@chapter_staff
def chapter_moderation_decide(chapter, report_id: str):
    return _decide(admin_services.Scope.of_chapter(chapter), report_id,
                   queue=lambda **kw: _chapter_queue(chapter, **kw),
                   back=url_for("moderation.chapter_moderation", code=chapter.code,
                                page=int_arg("page")))


# --- audit trail ---------------------------------------------------------------

def _csv(text: str, filename: str) -> Response:
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/chapters/<code>/audit")
@chapter_staff
def chapter_audit(chapter):
    scope = admin_services.Scope.of_chapter(chapter)
    form, filters = audit_filters(request.args, admin_services.audit_actions(scope))
    page = admin_services.audit_log(page=int_arg("page"), scope=scope, **filters)
    query_args = audit_query_args(filters)
    return render_template("hubs/chapter_audit.html", chapter=chapter, form=form, page=page,
                           query_args=query_args, describe=audit.describe,
                           role_label=role_label)


@bp.get("/chapters/<code>/audit.csv")
@chapter_staff
def chapter_audit_csv(chapter):
    scope = admin_services.Scope.of_chapter(chapter)
    _form, filters = audit_filters(request.args, admin_services.audit_actions(scope))
    return _csv(admin_services.audit_csv(scope=scope, **filters),
                f"harbour-audit-{chapter.code}.csv")


@bp.get("/hubs/<slug>/organise/audit.csv")
@staff_required(hub_staff(HubAction.VIEW_AUDIT))
def organise_audit_csv(slug: str):
    hub, _membership = hub_or_404(slug, current_user, HubAction.VIEW_AUDIT)
    form = HubAuditFilterForm(formdata=request.args)
    form.set_actions([(action, audit.describe(action))
                      for action in organise_services.audit_actions(hub)])
    action = form.action.data if form.validate() else ""
    return _csv(admin_services.audit_csv(scope=admin_services.Scope.of_hub(hub),
                                         action=action or ""),
                f"harbour-audit-{hub.slug}.csv")
