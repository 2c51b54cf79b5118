"""Update pages: posting and editing (organisers, coordinators, admins), reading,
commenting, hiding and reporting.

Organiser pages answer 404 to everyone who may not manage the hub or chapter,
before anything else is checked (R8, R9); those who may must have two-factor
authentication on (R20). An update a viewer may not see is 404, the same as
a missing one.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from community.auth.decorators import login_required, two_factor_required
from community.errors import show_on_form
from community.hubs.models import Chapter, Hub
from community.hubs.services import chapter_by_code
from community.permissions import (
    HubAction,
    author_shown,
    comment_shown_as_hub,
    decide_indexing,
    hub_or_404,
)
from community.updates import services
from community.updates.forms import (
    ActionForm,
    CommentForm,
    HideForm,
    NewUpdateForm,
    ReportForm,
    UpdateForm,
    update_form_data,
)
from community.updates.models import Comment, Update

bp = Blueprint("updates", __name__)
bp.add_app_template_global(comment_shown_as_hub)


# --- helpers -----------------------------------------------------------------------

def _staff(view):
    """Two-factor on (R20), checked after the 404 so it reveals nothing."""
    g.noindex = True
    return two_factor_required(view)()


def _status() -> int:
    return 400 if request.method == "POST" else 200


def _update_url(update: Update) -> str:
    return url_for("updates.detail", public_id=update.public_id)


def _owner_page(update: Update) -> str:
    if update.hub is not None:
        return url_for("hubs.detail", slug=update.hub.slug)
    return url_for("hubs.chapter", code=update.chapter.code)


def _render_form(form, *, hub: Hub | None = None, chapter: Chapter | None = None,
                 update: Update | None = None, errors: list[str] | None = None,
                 status: int = 200):
    return render_template(
        "updates/form.html", form=form, hub=hub, chapter=chapter, update=update,
        errors=errors or [], action_form=ActionForm(formdata=None),
        revisions=services.revisions_of(update) if update is not None else [],
    ), status


def _create(form: NewUpdateForm, *, hub: Hub | None = None, chapter: Chapter | None = None):
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            update = services.create_update(current_user, form.content(), hub=hub,
                                            chapter=chapter, publish=bool(form.publish.data))
        except services.UpdateError as error:
            show_on_form(form, error, errors)
        else:
            flash(_("The update is published.") if form.publish.data
                  else _("The update is saved as a draft."), "success")
            return redirect(_update_url(update))
    return _render_form(form, hub=hub, chapter=chapter, errors=errors, status=_status())


# --- organiser pages ---------------------------------------------------------------

@bp.route("/hubs/<slug>/updates/new", methods=["GET", "POST"])
@login_required
def new_for_hub(slug: str):
    hub, _membership = hub_or_404(slug, current_user, HubAction.MANAGE_MEMBERS)
    return _staff(lambda: _create(NewUpdateForm(), hub=hub))


@bp.route("/chapters/<code>/updates/new", methods=["GET", "POST"])
@login_required
def new_for_chapter(code: str):
    chapter = chapter_by_code(code)
    if chapter is None or not services.may_post_for_chapter(current_user, chapter):
        abort(404)
    return _staff(lambda: _create(NewUpdateForm(), chapter=chapter))


def _managed_or_404(public_id: str) -> Update:
    update = services.managed_update(public_id, current_user)
    if update is None:
        abort(404)
    return update


@bp.route("/updates/<public_id>/edit", methods=["GET", "POST"])
@login_required
def edit(public_id: str):
    update = _managed_or_404(public_id)

    def view():
        errors: list[str] = []
        if request.method == "POST":
            form = UpdateForm()
        else:
            form = UpdateForm(formdata=None, data=update_form_data(update))
        if form.validate_on_submit():
            try:
                services.edit_update(current_user, update, form.content())
            except services.UpdateError as error:
                show_on_form(form, error, errors)
            else:
                flash(_("Your changes are saved."), "success")
                return redirect(url_for("updates.edit", public_id=update.public_id))
        return _render_form(form, hub=update.hub, chapter=update.chapter, update=update,
                            errors=errors, status=_status())

    return _staff(view)


@bp.post("/updates/<public_id>/publish")
@login_required
def publish(public_id: str):
    update = _managed_or_404(public_id)

    def view():
        if not ActionForm().validate_on_submit():
            abort(400)
        try:
            services.publish_update(current_user, update)
        except services.UpdateError as error:
            flash(error.message, "error")
            return redirect(url_for("updates.edit", public_id=update.public_id))
        flash(_("The update is published."), "success")
        return redirect(_update_url(update))

    return _staff(view)


# --- reading and commenting --------------------------------------------------------

def _visible_or_404(public_id: str) -> Update:
    update = services.visible_update(public_id, current_user)
    if update is None:
        abort(404)
    return update


def _detail_page(update: Update, *, comment_form: CommentForm | None = None,
                 errors: list[str] | None = None, status: int = 200):
    decide_indexing(update=update)
    return render_template(
        "updates/detail.html", update=update, owner_url=_owner_page(update),
        comments=services.comments_of(update),
        comments_open=services.comments_open(update),
        is_member=services.is_member_for(current_user, update),
        can_manage=services.may_manage(current_user, update),
        show_author=author_shown(update),
        comment_form=comment_form or CommentForm(formdata=None),
        action_form=ActionForm(formdata=None), errors=errors or [],
    ), status


@bp.get("/updates/<public_id>")
def detail(public_id: str):
    return _detail_page(_visible_or_404(public_id))


@bp.post("/updates/<public_id>/comments")
@login_required
def comment(public_id: str):
    update = _visible_or_404(public_id)
    form = CommentForm()
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        if services.comments_open(update):
            return _detail_page(update, comment_form=form, status=400)
        # Where comments are refused, that refusal is the message, whatever was sent.
    errors: list[str] = []
    try:
        services.add_comment(current_user, update, form.body.data or "")
    except services.UpdateError as error:
        if services.comments_open(update):
            show_on_form(form, error, errors)
        else:
            # No comment form on the page: the refusal is shown above where it would be.
            form.body.errors = []
            errors.append(error.message)
        return _detail_page(update, comment_form=form, errors=errors, status=400)
    flash(_("Your comment is posted."), "success")
    return redirect(_update_url(update) + "#comments")


def _comment_or_404(public_id: str) -> Comment:
    comment = services.visible_comment(public_id, current_user)
    if comment is None:
        abort(404)
    return comment


@bp.route("/comments/<public_id>/edit", methods=["GET", "POST"])
@login_required
def edit_comment(public_id: str):
    comment = _comment_or_404(public_id)
    if comment.author_id != current_user.id:
        abort(404)
    form = CommentForm() if request.method == "POST" else CommentForm(
        formdata=None, body=comment.body)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.edit_comment(current_user, comment, form.body.data or "")
        except services.UpdateError as error:
            show_on_form(form, error, errors)
        else:
            flash(_("Your comment is saved."), "success")
            return redirect(_update_url(comment.update) + "#comments")
    return render_template("updates/comment_edit.html", comment=comment, form=form,
                           errors=errors), _status()


@bp.post("/comments/<public_id>/delete")
@login_required
def delete_comment(public_id: str):
    comment = _comment_or_404(public_id)
    if comment.author_id != current_user.id:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    update = comment.update
    services.delete_comment(current_user, comment)
    flash(_("Your comment is deleted."), "success")
    return redirect(_update_url(update) + "#comments")


@bp.route("/comments/<public_id>/hide", methods=["GET", "POST"])
@login_required
def hide_comment(public_id: str):
    comment = _comment_or_404(public_id)
    if not services.may_manage(current_user, comment.update):
        abort(404)

    def view():
        form = HideForm()
        errors: list[str] = []
        if form.validate_on_submit():
            try:
                services.hide_comment(current_user, comment, form.reason.data or "")
            except services.UpdateError as error:
                show_on_form(form, error, errors)
            else:
                flash(_("The comment is hidden."), "success")
                return redirect(_update_url(comment.update) + "#comments")
        return render_template("updates/comment_hide.html", comment=comment, form=form,
                               errors=errors), _status()

    return _staff(view)


def _report(target, back: str):
    form = ReportForm()
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.report(current_user, target, form.reason.data or "")
        except services.UpdateError as error:
            show_on_form(form, error, errors)
        else:
            flash(_("Thank you. The moderators will look at your report."), "success")
            return redirect(back)
    return render_template("updates/report.html", target=target,
                           is_comment=isinstance(target, Comment), back=back, form=form,
                           errors=errors), _status()


@bp.route("/updates/<public_id>/report", methods=["GET", "POST"])
@login_required
def report_update(public_id: str):
    update = _visible_or_404(public_id)
    return _report(update, _update_url(update))


@bp.route("/comments/<public_id>/report", methods=["GET", "POST"])
@login_required
def report_comment(public_id: str):
    comment = _comment_or_404(public_id)
    return _report(comment, _update_url(comment.update) + "#comments")
