"""Organiser event pages (routes on the events blueprint): a hub's events, and
creating, editing, publishing, cancelling and duplicating one.

Only people who may manage the hub's members (organisers, leads, the
chapter's coordinators, site admins) may use them; everyone else gets 404
before anything else is checked, so the pages reveal nothing about a hub or
an event (R8, R9). Those who may must have two-factor authentication on (R20).
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from community.auth.decorators import login_required, two_factor_required
from community.errors import show_on_form
from community.events.manage import services as services
from community.events.manage.forms import (
    THIS_AND_FOLLOWING,
    CancelForm,
    EditEventForm,
    EventActionForm,
    EventForm,
    NewEventForm,
    PublishForm,
    event_form_data,
)
from community.events.models import Audience, Event
from community.hubs.models import Hub
from community.hubs.routes import int_arg
from community.i18n import join_list, timezone_names
from community.permissions import HubAction, hub_or_404

bp = Blueprint("manage", __name__)

__all__ = ["bp"]


# --- guards and helpers ----------------------------------------------------------

def hub_organiser_page(view):
    """Signed in; 404 unless the user may manage the hub; then two-factor on (R20).
    The view receives the hub."""

    @wraps(view)
    @login_required
    def wrapped(slug: str):
        hub, _membership = hub_or_404(slug, current_user, HubAction.MANAGE_MEMBERS)
        # Organiser pages are never for search engines, whatever the hub says.
        g.noindex = True
        return two_factor_required(lambda: view(hub))()

    return wrapped


def event_organiser_page(view):
    """Signed in; 404 unless the user may manage the event's hub, as for an event
    that does not exist; then two-factor on (R20). The view receives the event."""

    @wraps(view)
    @login_required
    def wrapped(public_id: str):
        event = services.event_for_organiser(public_id, current_user)
        if event is None:
            abort(404)
        g.noindex = True
        return two_factor_required(lambda: view(event))()

    return wrapped


def edit_url(event: Event) -> str:
    return url_for("manage.edit", public_id=event.public_id)


def render_form(hub: Hub, form: EventForm, *, event: Event | None = None,
                cancel_form: CancelForm | None = None, errors: list[str] | None = None,
                status: int = 200):
    """The new-event or edit page; after a refused POST, with the messages and
    the input intact."""
    return render_template(
        "events/manage_form.html", hub=hub, event=event, form=form,
        cancel_form=cancel_form or CancelForm(formdata=None),
        action_form=EventActionForm(formdata=None), errors=errors or [],
        publish_form=PublishForm(formdata=None), timezones=timezone_names(),
        position=services.series_positions([event]).get(event.id) if event else None,
    ), status


def flash_skipped(days) -> None:
    """Say which occurrences were left out because a time falls in a clock change's gap."""
    if days:
        flash(ngettext("%(num)d date was left out because the time does not exist then (the "
                       "clocks go forward): %(dates)s.",
                       "%(num)d dates were left out because the time does not exist then "
                       "(the clocks go forward): %(dates)s.", len(days),
                       dates=join_list(day.isoformat() for day in days)), "info")


def following(form) -> bool:
    """Whether a series form asks for this and the following occurrences."""
    return form.scope.data == THIS_AND_FOLLOWING


def edit_form(event: Event, *, submitted: bool) -> EventForm:
    """The edit form: the stored values on GET, what was sent on POST."""
    if submitted:
        form = EditEventForm()
    else:
        form = EditEventForm(formdata=None, data=event_form_data(services.details_of(event)))
    if event.audience is Audience.INVITE:
        form.keep_invite_audience()
    return form


def refused_status() -> int:
    """A form sent back with errors answers 400; the empty form on GET, 200."""
    return 400 if request.method == "POST" else 200


# --- the list ----------------------------------------------------------------------

@bp.get("/hubs/<slug>/events", endpoint="manage")
@hub_organiser_page
def manage(hub: Hub):
    view = request.args.get("show", "upcoming")
    view = view if view in services.VIEWS else "upcoming"
    page = services.organiser_events(hub, view, int_arg("page"))
    return render_template("events/manage_list.html", hub=hub, page=page, view=view,
                           views=services.VIEWS, counts=services.view_counts(hub),
                           positions=services.series_positions(page.items))


# --- create and edit ---------------------------------------------------------------

@bp.route("/hubs/<slug>/events/new", methods=["GET", "POST"], endpoint="create")
@hub_organiser_page
def create(hub: Hub):
    # The hub's defaults fill the form on GET only: a POST stands on what was sent.
    form = NewEventForm(data=event_form_data(services.new_event_details(hub))
                        if request.method == "GET" else None)
    errors: list[str] = []
    if form.validate_on_submit():
        details = services.EventDetails(**form.details_values())
        repeat = form.repeat()
        try:
            if repeat.repeats:
                made = services.create_series(hub, current_user, details, repeat)
                event = made.events[0]
            else:
                made = None
                event = services.create_event(hub, current_user, details)
        except services.NotAllowed:
            abort(404)
        except services.EventManageError as error:
            show_on_form(form, error, errors)
        else:
            notes = services.ambiguity_notes(details)
            if made is None:
                flash(_("The event is saved as a draft. Only organisers can see it until you "
                        "publish it."), "success")
            else:
                flash(ngettext("The series is saved as %(num)d draft. Only organisers can see "
                               "it until you publish it.",
                               "The series is saved as %(num)d drafts. Only organisers can "
                               "see them until you publish them.", len(made.events)),
                      "success")
                flash_skipped(made.skipped)
            for note in notes:
                flash(note, "info")
            return redirect(edit_url(event))
    return render_form(hub, form, errors=errors, status=refused_status())


@bp.route("/events/<public_id>/edit", methods=["GET", "POST"], endpoint="edit")
@event_organiser_page
def edit(event: Event):
    form = edit_form(event, submitted=request.method == "POST")
    errors: list[str] = []
    if form.validate_on_submit():
        details = services.EventDetails(**form.details_values())
        try:
            # Capacity is checked against places taken: serialise with RSVPs.
            if event.series_id and following(form):
                changed, others = services.update_following(event, current_user, details)
            else:
                changed, others = services.update_event(event, current_user, details), None
            notes = services.ambiguity_notes(details) if changed else []
        except services.NotAllowed:
            abort(404)
        except services.EventManageError as error:
            show_on_form(form, error, errors)
        else:
            if others is not None and (changed or others.events):
                flash(ngettext("Your changes are saved to this event and %(num)d following "
                               "event.",
                               "Your changes are saved to this event and %(num)d following "
                               "events.", len(others.events)), "success")
            elif changed:
                flash(_("Your changes are saved."), "success")
            else:
                flash(_("Nothing was changed."), "info")
            if others is not None:
                flash_skipped(others.skipped)
            for note in notes:
                flash(note, "info")
            return redirect(edit_url(event))
    return render_form(event.hub, form, event=event, errors=errors, status=refused_status())


# --- publish, cancel, duplicate ----------------------------------------------------

@bp.post("/events/<public_id>/publish", endpoint="publish")
@event_organiser_page
def publish(event: Event):
    form = PublishForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if event.series_id and following(form):
            published = services.publish_following(event, current_user)
        else:
            published = None
            services.publish_event(event, current_user)
    except services.NotAllowed:
        abort(404)
    except services.EventManageError as error:
        flash(error.message, "error")
        return redirect(edit_url(event))
    if published is None:
        flash(_("The event is published. Its audience can now see it and answer."), "success")
    else:
        flash(ngettext("%(num)d event of the series is published. Its audience can now see "
                       "it and answer.",
                       "%(num)d events of the series are published. Their audience can now "
                       "see them and answer.", published), "success")
    return redirect(edit_url(event))


@bp.post("/events/<public_id>/cancel", endpoint="cancel")
@event_organiser_page
def cancel(event: Event):
    form = CancelForm()
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            if event.series_id and following(form):
                cancelled, sent = services.cancel_following(
                    event, current_user, form.message.data or "")
            else:
                cancelled = None
                sent = services.cancel_event(event, current_user, form.message.data or "")
        except services.NotAllowed:
            abort(404)
        except services.EventManageError as error:
            show_on_form(form, error, errors)
        else:
            if cancelled is not None:
                flash(ngettext("%(num)d event of the series is cancelled.",
                               "%(num)d events of the series are cancelled.", cancelled),
                      "success")
            if sent:
                flash(ngettext("The event is cancelled. We are emailing the %(num)d person "
                               "who answered.",
                               "The event is cancelled. We are emailing the %(num)d people "
                               "who answered.", sent), "success")
            else:
                flash(_("The event is cancelled. Nobody had answered it, so there was "
                        "nobody to email."), "success")
            return redirect(edit_url(event))
    return render_form(event.hub, edit_form(event, submitted=False), event=event,
                       cancel_form=form, errors=errors, status=400)


@bp.post("/events/<public_id>/duplicate", endpoint="duplicate")
@event_organiser_page
def duplicate(event: Event):
    if not EventActionForm().validate_on_submit():
        abort(400)
    try:
        copy = services.duplicate_event(event, current_user)
    except services.NotAllowed:
        abort(404)
    flash(_("This is a copy of the event, one week later. It is a draft until you "
            "publish it."), "success")
    return redirect(edit_url(copy))
