"""Atom feeds, subscribable calendars and the personal calendar (DESIGN §4
"Calendars and feeds"). Feeds exist only for listed, active hubs (R4)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from community import feeds
from community.auth.decorators import login_required
from community.hubs.services import chapter_by_code
from community.pagecache import cached_feed, conditional
from community.security import absolute_url

bp = Blueprint("feeds", __name__)

ATOM_TYPE = "application/atom+xml; charset=utf-8"
CALENDAR_TYPE = "text/calendar; charset=utf-8"


class CalendarTokenForm(FlaskForm):
    """Create or replace the personal calendar link (CSRF only)."""


class RevokeCalendarForm(FlaskForm):
    """Turn the personal calendar link off (CSRF only)."""


def _send(body: bytes, content_type: str, filename: str | None = None):
    response = make_response(body)
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if filename:
        response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _hub_or_404(slug: str):
    hub = feeds.listed_hub_or_none(slug)
    if hub is None:
        abort(404)
    return hub


def _chapter_or_404(code: str):
    chapter = chapter_by_code(code)
    if chapter is None:
        abort(404)
    return chapter


# --- Atom -------------------------------------------------------------------------------

@bp.get("/updates.atom")
@cached_feed
def site_updates():
    return _send(feeds.render_atom(feeds.updates_feed()), ATOM_TYPE)


@bp.get("/events.atom")
@cached_feed
def site_events():
    return _send(feeds.render_atom(feeds.events_feed()), ATOM_TYPE)


@bp.get("/hubs/<slug>/updates.atom")
@cached_feed
def hub_updates(slug: str):
    return _send(feeds.render_atom(feeds.updates_feed(hub=_hub_or_404(slug))), ATOM_TYPE)


@bp.get("/hubs/<slug>/events.atom")
@cached_feed
def hub_events(slug: str):
    return _send(feeds.render_atom(feeds.events_feed(hub=_hub_or_404(slug))), ATOM_TYPE)


@bp.get("/chapters/<code>/updates.atom")
@cached_feed
def chapter_updates(code: str):
    return _send(feeds.render_atom(feeds.updates_feed(chapter=_chapter_or_404(code))),
                 ATOM_TYPE)


@bp.get("/chapters/<code>/events.atom")
@cached_feed
def chapter_events(code: str):
    return _send(feeds.render_atom(feeds.events_feed(chapter=_chapter_or_404(code))),
                 ATOM_TYPE)


# --- subscribable calendars ---------------------------------------------------------------

@bp.get("/hubs/<slug>/events.ics")
@cached_feed
def hub_calendar(slug: str):
    hub = _hub_or_404(slug)
    return _send(feeds.public_calendar(hub=hub), CALENDAR_TYPE, f"{hub.slug}.ics")


@bp.get("/chapters/<code>/events.ics")
@cached_feed
def chapter_calendar(code: str):
    chapter = _chapter_or_404(code)
    return _send(feeds.public_calendar(chapter=chapter), CALENDAR_TYPE, f"{chapter.code}.ics")


# --- personal calendar ----------------------------------------------------------------------

@bp.get("/calendar/<token>.ics")
def personal_calendar(token: str):
    user = feeds.user_by_calendar_token(token)
    # Travel mode stops the personal calendar serving, as if the link were off.
    if user is None or user.travel_mode_since is not None:
        abort(404)
    # Never kept in the cache (the URL holds a secret): an ETag, so an unchanged
    # calendar is answered 304 Not Modified.
    return conditional(_send(feeds.personal_calendar(user), CALENDAR_TYPE, "harbour.ics"))


def _settings_page(calendar_url: str | None = None, status: int = 200):
    return render_template(
        "feeds/calendar.html",
        has_token=(current_user.calendar_token_hash is not None
                    and current_user.travel_mode_since is None),
        calendar_url=calendar_url, form=CalendarTokenForm(), revoke_form=RevokeCalendarForm(),
    ), status


@bp.get("/account/calendar")
@login_required
def calendar_settings():
    return _settings_page()


@bp.post("/account/calendar")
@login_required
def issue_calendar():
    if not CalendarTokenForm().validate_on_submit():
        abort(400)
    if current_user.travel_mode_since is not None:
        # A new link would replace the one travel mode keeps for later.
        abort(404)
    token = feeds.issue_calendar_token(current_user._get_current_object())
    # Shown this once: only the token's hash is kept.
    return _settings_page(absolute_url("feeds.personal_calendar", token=token))


@bp.post("/account/calendar/revoke")
@login_required
def revoke_calendar():
    if not RevokeCalendarForm().validate_on_submit():
        abort(400)
    if current_user.travel_mode_since is not None:
        abort(404)
    feeds.revoke_calendar_token(current_user._get_current_object())
    flash(_("Your calendar link is turned off. Calendars using it will stop updating."),
          "success")
    return redirect(url_for("feeds.calendar_settings"))
