"""Event pages, RSVPs and calendar files."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from community import calendars
from community.auth.decorators import login_required, verified_required
from community.database import write_transaction
from community.events import services
from community.events.forms import RsvpForm, WithdrawForm
from community.events.models import RsvpStatus
from community.extensions import db
from community.i18n import localized

bp = Blueprint("events", __name__)


def visible_event_or_404(public_id: str):
    """The event and the viewer, if the viewer may see it; 404 otherwise (R8)."""
    event = services.event_by_public_id(public_id)
    if event is None:
        abort(404)
    viewer = services.viewer_for(event, current_user)
    if not services.can_view(event, viewer):
        abort(404)
    return event, viewer


@bp.get("/events/<public_id>")
def detail(public_id: str):
    event, viewer = visible_event_or_404(public_id)
    return render_template(
        "events/detail.html", event=event, viewer=viewer,
        location=services.location_for(event, viewer),
        attendance=services.attendance_text(event, viewer),
        seats_left=services.seats_left(event),
        rsvp_form=RsvpForm(), withdraw_form=WithdrawForm(),
    )


@bp.post("/events/<public_id>/rsvp")
@verified_required
def rsvp(public_id: str):
    event, _viewer = visible_event_or_404(public_id)
    form = RsvpForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for("events.detail", public_id=public_id))
    guests, note = form.guests.data or 0, form.note.data or ""
    try:
        with write_transaction(db.session):
            answer = services.rsvp(event, current_user, guests=guests, note=note)
            db.session.commit()
    except services.EventError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("events.detail", public_id=public_id))
    messages = {
        RsvpStatus.GOING: _("You are going. See you there!"),
        RsvpStatus.WAITLISTED: _("The event is full, so you are on the waiting list. "
                                 "We will email you if a place opens up."),
        RsvpStatus.PENDING: _("Thank you. The organisers will confirm your place."),
    }
    flash(messages.get(answer.status, _("Your answer is saved.")), "success")
    return redirect(url_for("events.detail", public_id=public_id))


@bp.post("/events/<public_id>/withdraw")
@login_required
def withdraw(public_id: str):
    event, _viewer = visible_event_or_404(public_id)
    if not WithdrawForm().validate_on_submit():
        abort(400)
    try:
        with write_transaction(db.session):
            services.withdraw(event, current_user)
            db.session.commit()
    except services.EventError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("events.detail", public_id=public_id))
    flash(_("Your answer is withdrawn. Nothing of it is kept."), "success")
    return redirect(url_for("events.detail", public_id=public_id))


@bp.get("/events/<public_id>/calendar.ics")
def calendar(public_id: str):
    event, viewer = visible_event_or_404(public_id)
    place = services.location_for(event, viewer)
    cal = calendars.new_calendar(localized(event, "title").text)
    calendars.add_event(cal, event, location=place.calendar_text,
                        online_url=place.online_url or None)
    response = make_response(calendars.to_bytes(cal))
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{event.public_id}.ics"'
    return response
