"""Door-staff pages (routes on the door blueprint).

Organisers choose door staff on /events/<id>/door-staff (two-factor, 404 to
everyone else, R8, R20). Door staff have one page, /events/<id>/door, while
the event lasts: everyone else, organisers included, gets the 404 of a missing
event there. The page answers a POST with the verdict itself rather than a
redirect, so the name on a ticket never travels in a cookie.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from community.auth.decorators import staff_required
from community.errors import show_on_form
from community.events.attendees import services as attendees
from community.events.door import services
from community.events.door.forms import AssignForm, CheckinCodeForm, RemoveForm
from community.events.models import Event
from community.permissions import name_in_hub

bp = Blueprint("door", __name__)

__all__ = ["bp"]

STAFF = "/events/<public_id>/door-staff"


def _managed_or_404(public_id: str) -> Event:
    event = attendees.managed_event(public_id, current_user)
    if event is None:
        abort(404)
    return event


def _organiser_of(public_id: str, **_other) -> None:
    _managed_or_404(public_id)


def _staff_page(event: Event, form: AssignForm, status: int = 200):
    return render_template("events/door_staff.html", event=event, form=form,
                           staff=services.assignments(event),
                           remove_form=RemoveForm(formdata=None)), status


@bp.route(STAFF, methods=["GET", "POST"])
@staff_required(_organiser_of)
def door_staff(public_id: str):
    event = _managed_or_404(public_id)
    form = AssignForm()
    form.set_candidates(services.candidates(event))
    if request.method == "GET":
        return _staff_page(event, form)
    if not form.validate_on_submit():
        return _staff_page(event, form, 400)
    try:
        staff = services.assign(current_user, event, form.member.data or "")
    except services.DoorError as error:
        show_on_form(form, error)
        return _staff_page(event, form, 400)
    flash(_("%(name)s can now check tickets at the door until the event ends.",
            name=name_in_hub(staff.user, event.hub_id)), "success")
    return redirect(url_for("door.door_staff", public_id=event.public_id))


@bp.post(STAFF + "/<staff_id>/remove")
@staff_required(_organiser_of)
def door_staff_remove(public_id: str, staff_id: str):
    event = _managed_or_404(public_id)
    if not RemoveForm().validate_on_submit():
        abort(400)
    try:
        name = services.remove(current_user, event, staff_id)
    except services.DoorError:
        abort(404)
    flash(_("%(name)s is no longer door staff of this event.", name=name), "success")
    return redirect(url_for("door.door_staff", public_id=event.public_id))


@bp.route("/events/<public_id>/door", methods=["GET", "POST"])
@login_required
def door(public_id: str):
    event = services.door_event(public_id, current_user)
    if event is None:
        abort(404)
    form = CheckinCodeForm()
    result, status = None, 200
    if request.method == "POST":
        if form.validate_on_submit():
            result = services.check_ticket(current_user, event, form.code.data or "")
            form = CheckinCodeForm(formdata=None)  # empty again for the next ticket
        else:
            status = 400
    return render_template("events/door.html", event=event, form=form, result=result,
                           checkin_time_text=attendees.checkin_time_text), status
