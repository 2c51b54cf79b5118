"""Event pages, RSVPs and calendar files."""

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
from flask_login import current_user

from community import calendars
from community.auth.decorators import login_required, verified_required
from community.errors import show_on_form
from community.events import services
from community.events.forms import RsvpForm, WithdrawForm, ZoneFilterForm
from community.events.models import RsvpStatus
from community.i18n import localized, valid_timezone
from community.pagecache import cached_page
from community.pagination import int_arg
from community.permissions import decide_indexing

bp = Blueprint("events", __name__)


def visible_event_or_404(public_id: str):
    """The event and the viewer, if the viewer may see it; 404 otherwise (R8)."""
    event = services.event_by_public_id(public_id)
    if event is None:
        abort(404)
    viewer = services.viewer_for(event, current_user)
    if not services.can_view(event, viewer):
        abort(404)
    decide_indexing(event=event)
    return event, viewer


def _date_arg(name: str):
    """A YYYY-MM-DD query parameter as the start of that day in UTC, or None."""
    from datetime import UTC, datetime

    value = request.args.get(name, "")
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC) if value else None
    except ValueError:
        return None


def _day_after(day):
    """The start of the next day, the end of a ``to`` date; None (no end) after 9999-12-31."""
    from datetime import timedelta

    try:
        return day + timedelta(days=1) if day else None
    except OverflowError:
        return None


@bp.get("/events")
@cached_page
def listing():
    from community.hubs import services as hub_services

    chapters = hub_services.chapters()
    chapter = request.args.get("chapter", "")
    if chapter not in {c.code for c in chapters}:
        chapter = ""
    zone_form = ZoneFilterForm(request.args)
    if zone_form.tz_other.data and zone_form.validate():
        # A typed zone becomes the list's own ?tz= (the one every page reads).
        args = request.args.to_dict()
        args.pop("tz_other")
        args["tz"] = zone_form.tz_other.data
        return redirect(url_for("events.listing", **args))
    date_from, date_to = _date_arg("from"), _date_arg("to")
    filters = {
        "q": request.args.get("q", "")[:100],
        "chapter": chapter,
        "hub": request.args.get("hub", "")[:64],
        "language": request.args.get("language", "") if request.args.get("language") in
        LANGUAGE_FILTERS else "",
        "mode": request.args.get("mode", "") if request.args.get("mode") in MODES else "",
        "from": request.args.get("from", "") if date_from else "",
        "to": request.args.get("to", "") if date_to else "",
        "tz": request.args.get("tz", "") if valid_timezone(request.args.get("tz")) else "",
    }
    page = services.public_listing(
        query=filters["q"], chapter_code=chapter, hub_slug=filters["hub"],
        date_from=date_from, date_to=_day_after(date_to),
        language=filters["language"], mode=filters["mode"], page=int_arg("page"),
        after=request.args.get("after", "")[:32],
    )
    decide_indexing()
    modes = mode_labels()
    return render_template("events/list.html", page=page, filters=filters, chapters=chapters,
                           languages=LANGUAGE_FILTERS, mode_labels=modes,
                           query_args={k: v for k, v in filters.items() if v},
                           active_filters=active_filters(filters, chapters, modes),
                           timezones=short_timezones(chapters, filters["tz"]),
                           zone_form=zone_form), 400 if zone_form.errors else 200


def mode_labels() -> dict[str, str]:
    return {"in_person": _("In person"), "online": _("Online"),
            "hybrid": _("In person and online")}


def short_timezones(chapters, chosen: str) -> list[str]:
    """The zones that matter here: each chapter's, UTC and the one chosen. Any other
    zone can be typed (ZoneFilterForm); hundreds of options on every list page cost
    more than the events they list."""
    return sorted({c.default_timezone for c in chapters} | {"UTC"} | ({chosen} - {""}))


def active_filters(filters: dict, chapters, modes: dict) -> list[str]:
    """What the list is filtered by, in words, for the folded filters' summary."""
    from community.i18n import language_name

    words = []
    if filters["q"]:
        words.append(_("titles with “%(text)s”", text=filters["q"]))
    words += [localized(c, "name").text for c in chapters if c.code == filters["chapter"]]
    if filters["hub"]:
        words.append(_("hub %(slug)s", slug=filters["hub"]))
    if filters["language"]:
        words.append(language_name(filters["language"]))
    if filters["mode"]:
        words.append(modes[filters["mode"]])
    if filters["from"]:
        words.append(_("from %(date)s", date=filters["from"]))
    if filters["to"]:
        words.append(_("until %(date)s", date=filters["to"]))
    if filters["tz"]:
        words.append(_("times also in %(zone)s", zone=filters["tz"]))
    return words


LANGUAGE_FILTERS = ("yue", "en", "cmn")
MODES = ("in_person", "online", "hybrid")


@bp.get("/events/<public_id>")
@cached_page
def detail(public_id: str):
    event, viewer = visible_event_or_404(public_id)
    return _detail_page(event, viewer)


def _detail_page(event, viewer, rsvp_form: RsvpForm | None = None, status: int = 200):
    """The event page; ``rsvp_form`` carries what someone typed and why it was refused."""
    return render_template(
        "events/detail.html", event=event, viewer=viewer,
        location=services.location_for(event, viewer),
        attendance=services.attendance_text(event, viewer),
        seats_left=services.seats_left(event),
        waitlist_position=services.waitlist_position(viewer.rsvp) if viewer.rsvp else None,
        webcal_url=calendars.webcal_url(event),
        rsvp_form=rsvp_form or RsvpForm(formdata=None), withdraw_form=WithdrawForm(),
    ), status


@bp.post("/events/<public_id>/rsvp")
@verified_required
def rsvp(public_id: str):
    event, viewer = visible_event_or_404(public_id)
    form = RsvpForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        # Shown again with the guests and note as typed, each error beside its field.
        return _detail_page(event, viewer, form, 400)
    guests, note = form.guests.data or 0, form.note.data or ""
    try:
        answer = services.rsvp(event, current_user, guests=guests, note=note)
    except services.AlreadyAnswered as error:
        flash(error.message, "info")
        return redirect(url_for("events.detail", public_id=public_id))
    except services.EventError as error:
        if error.field:
            show_on_form(form, error)
            return _detail_page(event, viewer, form, 400)
        flash(error.message, "error")
        return redirect(url_for("events.detail", public_id=public_id))
    return answered(answer)


def answered(answer):
    """Back to the event page, saying what the answer became."""
    messages = {
        RsvpStatus.GOING: _("You are going. See you there!"),
        RsvpStatus.WAITLISTED: _("The event is full, so you are on the waiting list. "
                                 "We will email you if a place opens up."),
        RsvpStatus.PENDING: _("Thank you. The organisers will confirm your place."),
    }
    flash(messages.get(answer.status, _("Your answer is saved.")), "success")
    return redirect(url_for("events.detail", public_id=answer.event.public_id))


@bp.post("/events/<public_id>/withdraw")
@login_required
def withdraw(public_id: str):
    event, _viewer = visible_event_or_404(public_id)
    if not WithdrawForm().validate_on_submit():
        abort(400)
    try:
        services.withdraw(event, current_user)
    except services.EventError as error:
        flash(error.message, "error")
        return redirect(url_for("events.detail", public_id=public_id))
    flash(_("Your answer is withdrawn. Nothing of it is kept."), "success")
    return redirect(url_for("events.detail", public_id=public_id))


@bp.get("/events/<public_id>/calendar.ics")
def calendar(public_id: str):
    event, viewer = visible_event_or_404(public_id)
    place = services.location_for(event, viewer)
    cal = calendars.CalendarFile(localized(event, "title").text)
    cal.add(event, location=place.calendar_text, online_url=place.online_url or None)
    response = make_response(cal.to_bytes())
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{event.public_id}.ics"'
    return response
