"""Organiser attendee pages, tickets and the door check-in (routes on the events blueprint).

Attendee pages need two-factor authentication (R20) and the right to manage
the event's hub; anyone else gets the 404 of a missing event (R1, R8).
Opening or exporting a list also needs a re-authentication in the last ten
minutes (R20). Each request commits once; the rules are in attendee_services.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from community.auth.decorators import staff_required
from community.auth.sessions import recently_authenticated
from community.auth.totp import qr_data_uri
from community.events import services as event_services
from community.events.attendees import access
from community.events.attendees import services as services
from community.events.attendees.forms import (
    AttendeeActionForm,
    CheckinCodeForm,
    CheckinPersonForm,
    CheckinSearchForm,
    MessageForm,
)
from community.events.models import Event, Rsvp
from community.permissions import name_in_hub
from community.transaction import writes

bp = Blueprint("attendees", __name__)

__all__ = ["bp"]

ATTENDEES = "/events/<public_id>/attendees"
ANSWER = ATTENDEES + "/<rsvp_id>"


def _event_or_404(public_id: str) -> Event:
    event = services.managed_event(public_id, current_user)
    if event is None:
        abort(404)
    return event


def _organiser_of(public_id: str, **_other) -> None:
    """The staff check of every page here: 404 unless the user manages the event."""
    _event_or_404(public_id)


def _answer_or_404(event: Event, rsvp_id: str) -> Rsvp:
    answer = services.rsvp_in(event, rsvp_id)
    if answer is None:
        abort(404)
    return answer


def _to_attendees(event: Event):
    return redirect(url_for("attendees.attendees", public_id=event.public_id))


@bp.get(ATTENDEES)
@staff_required(_organiser_of, recent_auth=True)
@writes  # every opening of the list is audited
def attendees(public_id: str):
    event = _event_or_404(public_id)
    if not access.has_access(current_user, event):
        return _locked_page(event)
    lists = services.open_attendee_list(current_user, event)
    return render_template("events/attendees.html", event=event, lists=lists,
                           action_form=AttendeeActionForm(formdata=None))


def _change(public_id: str, rsvp_id: str, change, done):
    """Shared body of confirm, waitlist and decline: one service call inside
    the capacity transaction, one commit, back to the lists."""
    event = _event_or_404(public_id)
    answer = _answer_or_404(event, rsvp_id)
    if not AttendeeActionForm().validate_on_submit():
        abort(400)
    name = name_in_hub(answer.user, event.hub_id)
    try:
        result = change(current_user, answer)
    except services.AttendeeError as error:
        flash(error.message, "error")
        return _to_attendees(event)
    flash(done(name), "success")
    if result:
        flash(ngettext("%(num)d person moved up from the waiting list. We emailed them.",
                       "%(num)d people moved up from the waiting list. We emailed them.",
                       len(result)), "success")
    return _to_attendees(event)


@bp.post(ANSWER + "/confirm")
@staff_required(_organiser_of)
def attendee_confirm(public_id: str, rsvp_id: str):
    return _change(public_id, rsvp_id, services.confirm,
                   lambda name: _("%(name)s is going. We emailed them.", name=name))


@bp.post(ANSWER + "/waitlist")
@staff_required(_organiser_of)
def attendee_waitlist(public_id: str, rsvp_id: str):
    return _change(public_id, rsvp_id, services.waitlist,
                   lambda name: _("%(name)s is on the waiting list.", name=name))


@bp.post(ANSWER + "/decline")
@staff_required(_organiser_of)
def attendee_decline(public_id: str, rsvp_id: str):
    return _change(public_id, rsvp_id, services.decline,
                   lambda name: _("The answer of %(name)s is declined.", name=name))


def _locked_page(event: Event):
    """A two-key hub's list, closed: ask a second organiser, or approve another's ask."""
    return render_template(
        "events/attendees_locked.html", event=event,
        mine=access.my_open_request(current_user, event),
        to_approve=access.requests_to_approve(current_user, event),
        action_form=AttendeeActionForm(formdata=None))


@bp.post(ATTENDEES + "/access")
@staff_required(_organiser_of)
def attendees_access(public_id: str):
    event = _event_or_404(public_id)
    if not AttendeeActionForm().validate_on_submit():
        abort(400)
    access.ask(current_user, event)
    flash(_("Your request is waiting for another organiser of the hub to agree."), "info")
    return _to_attendees(event)


@bp.post(ATTENDEES + "/access/<request_id>/approve")
@staff_required(_organiser_of)
def attendees_access_approve(public_id: str, request_id: str):
    event = _event_or_404(public_id)
    if not AttendeeActionForm().validate_on_submit():
        abort(400)
    try:
        request_ = access.approve(current_user, event, request_id)
    except services.AttendeeError as error:
        flash(error.message, "error")
        return _to_attendees(event)
    flash(_("You agreed. %(name)s can open the list for the next hour.",
            name=name_in_hub(request_.requester, event.hub_id)), "success")
    return _to_attendees(event)


@bp.post(ATTENDEES + ".csv")
@staff_required(_organiser_of)
def attendees_csv(public_id: str):
    event = _event_or_404(public_id)
    if not AttendeeActionForm().validate_on_submit():
        abort(400)
    if not access.has_access(current_user, event):
        flash(_("In this hub a second organiser must agree before the list is opened or "
                "downloaded."), "error")
        return _to_attendees(event)
    if not recently_authenticated():
        # The export is a POST; come back to the list and press the button again.
        flash(_("Please confirm it is you, then download the list again."), "info")
        return redirect(url_for("auth.confirm",
                                next=url_for("attendees.attendees", public_id=event.public_id)))
    body = services.export_csv(current_user, event)
    response = make_response(body)
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="attendees-{event.public_id}.csv"')
    return response


@bp.route(ATTENDEES + "/message", methods=["GET", "POST"])
@staff_required(_organiser_of)
def attendees_message(public_id: str):
    event = _event_or_404(public_id)
    form = MessageForm()
    if form.validate_on_submit():
        try:
            sent = services.message_attendees(
                current_user, event, group=form.group.data or "",
                subject=form.subject.data or "", body=form.body.data or "")
        except services.AttendeeError as error:
            form.group.errors = [*form.group.errors, error.message]
        else:
            flash(ngettext("Your message is on its way to %(num)d person.",
                           "Your message is on its way to %(num)d people.", sent), "success")
            paused = services.paused_in_group(event, form.group.data or "")
            if paused:
                flash(ngettext("Email to %(num)d person is paused.",
                               "Email to %(num)d people is paused.", paused), "info")
            return _to_attendees(event)
    status = 400 if request.method == "POST" else 200
    invalid = [field for field in form if field.errors]
    return render_template("events/attendees_message.html", event=event, form=form,
                           invalid_fields=invalid), status


@bp.get("/events/<public_id>/ticket")
@login_required
def ticket(public_id: str):
    event = services.event_by_id(public_id)
    if event is None:
        abort(404)
    viewer = event_services.viewer_for(event, current_user)
    if not event_services.can_view(event, viewer):
        abort(404)
    answer = services.own_ticket(event, current_user)
    if answer is None:
        abort(404)
    code = services.ticket_code(answer)
    # Groups of six, so the code can be read out and typed; spaces are ignored on entry.
    groups = " ".join(code[i:i + 6] for i in range(0, len(code), 6))
    return render_template("events/ticket.html", event=event, answer=answer,
                           code_groups=groups, qr=qr_data_uri(code))


def _flash_check_in(event: Event, result: services.CheckIn) -> None:
    name, guests = result.name, result.rsvp.guests
    if result.already_at is not None:
        flash(_("%(name)s was already checked in at %(time)s.", name=name,
                time=services.checkin_time_text(event, result.already_at)), "error")
        return
    if result.recorded:
        flash(_("Checked in: %(name)s.", name=name), "success")
    else:
        flash(_("Valid ticket for %(name)s.", name=name), "success")
        flash(_("This hub keeps no check-in records, so nothing was stored."), "info")
    if guests:
        flash(ngettext("They bring %(num)d guest.", "They bring %(num)d guests.", guests),
              "info")


def _checkin_page(event: Event, *, code_form: CheckinCodeForm | None = None,
                  status: int = 200):
    search = CheckinSearchForm(formdata=request.args)
    listing = "q" in request.args
    answers, needs_reauth = None, False
    locked = not access.has_access(current_user, event)
    if listing and search.validate() and not locked:
        if recently_authenticated():
            answers = services.checkin_list(current_user, event, search.q.data or "")
        else:
            needs_reauth = True
    return render_template(
        "events/checkin.html", event=event, code_form=code_form or CheckinCodeForm(formdata=None),
        search=search, answers=answers, needs_reauth=needs_reauth, listing=listing,
        locked=locked,
        person_form=CheckinPersonForm(formdata=None),
    ), status


@bp.route("/events/<public_id>/checkin", methods=["GET", "POST"])
@staff_required(_organiser_of)
@writes  # a search of the door list is audited
def checkin(public_id: str):
    event = _event_or_404(public_id)
    if request.method == "GET":
        return _checkin_page(event)
    query = request.args.get("q")
    back = redirect(url_for("attendees.checkin", public_id=event.public_id, q=query))
    if "rsvp" in request.form:
        person_form = CheckinPersonForm()
        if not person_form.validate_on_submit():
            abort(400)
        answer, code = _answer_or_404(event, person_form.rsvp.data or ""), ""
    else:
        code_form = CheckinCodeForm()
        if not code_form.validate_on_submit():
            return _checkin_page(event, code_form=code_form, status=400)
        answer, code = None, code_form.code.data or ""
    try:
        if answer is not None:
            result = services.check_in(current_user, event, answer)
        else:
            result = services.check_in_code(current_user, event, code)
    except services.AttendeeError as error:
        flash(error.message, "error")
        return back
    _flash_check_in(event, result)
    return back
