"""Subscribable hub and chapter calendars, and the personal calendar (issue 5 item 11, R3, R7)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from community.auth.models import User
from community.database import utcnow
from community.events.models import Audience, EventStatus, RsvpStatus, Tier
from community.extensions import db
from community.factories import (
    make_chapter,
    make_event,
    make_hub,
    make_membership,
    make_rsvp,
    make_user,
)
from community.hubs.models import HubVisibility
from tests.conftest import csrf_token, login_as


def parse(response) -> Calendar:
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    # Kept by calendar apps, revalidated by ETag each time (issue 14).
    assert response.headers["Cache-Control"] in ("no-cache", "private, no-cache")
    assert response.headers["ETag"]
    return Calendar.from_ical(response.get_data())


def events_of(calendar: Calendar) -> dict[str, object]:
    return {str(e["summary"]): e for e in calendar.walk("VEVENT")}


def assert_zoned(calendar: Calendar) -> None:
    zones = {str(z["tzid"]) for z in calendar.walk("VTIMEZONE")}
    for entry in calendar.walk("VEVENT"):
        for key in ("dtstart", "dtend"):
            assert entry[key].params["TZID"] in zones


@pytest.fixture
def cal():
    chapter = make_chapter("cl")
    hub = make_hub(chapter, "cal-hub", timezone="Asia/Hong_Kong")
    unlisted = make_hub(chapter, "cal-unlisted", visibility=HubVisibility.UNLISTED)
    soon = utcnow() + timedelta(days=3)
    public = make_event(hub, title_en="OPEN-PLACE", venue="OPEN-VENUE", address="OPEN-ADDRESS",
                        location_visibility=Tier.PUBLIC, timezone="Asia/Hong_Kong")
    later = make_event(hub, title_en="LATER-PLACE", address="LATER-ADDRESS",
                       location_visibility=Tier.PUBLIC, location_reveal_at=soon,
                       timezone="America/Toronto")
    members = make_event(hub, title_en="MEMBER-PLACE", address="MEMBER-ADDRESS",
                         location_visibility=Tier.MEMBERS,
                         online_url="https://meet.example/MEMBER-LINK",
                         online_visibility=Tier.ATTENDEES)
    attendees = make_event(hub, title_en="ATTENDEE-PLACE", address="ATTENDEE-ADDRESS",
                           location_visibility=Tier.ATTENDEES)
    cancelled = make_event(hub, title_en="CANCELLED-EVENT", status=EventStatus.CANCELLED)
    make_event(hub, title_en="MEMBERSONLY-EVENT", audience=Audience.MEMBERS)
    make_event(hub, title_en="DRAFT-EVENT", status=EventStatus.DRAFT)
    # The window is 30 days back to a year ahead (README "Calendars and feeds").
    make_event(hub, title_en="RECENT-EVENT", starts_at=utcnow() - timedelta(days=2))
    make_event(hub, title_en="PAST-EVENT", starts_at=utcnow() - timedelta(days=31))
    make_event(hub, title_en="FAR-EVENT", starts_at=utcnow() + timedelta(days=366))
    make_event(unlisted, title_en="UNLISTED-EVENT")
    return {"hub": hub, "public": public, "later": later, "members": members,
            "attendees": attendees, "cancelled": cancelled, "chapter": chapter}


@pytest.mark.parametrize("url", ["/hubs/cal-hub/events.ics", "/chapters/cl/events.ics"])
def test_public_calendar_lists_upcoming_public_events_with_zones(client, cal, url):
    response = client.get(url)
    calendar = parse(response)
    found = events_of(calendar)
    assert set(found) == {"OPEN-PLACE", "LATER-PLACE", "MEMBER-PLACE", "ATTENDEE-PLACE",
                          "CANCELLED-EVENT", "RECENT-EVENT"}
    assert_zoned(calendar)
    assert found["OPEN-PLACE"]["dtstart"].params["TZID"] == "Asia/Hong_Kong"
    assert found["LATER-PLACE"]["dtstart"].params["TZID"] == "America/Toronto"
    assert str(found["CANCELLED-EVENT"]["status"]) == "CANCELLED"
    assert str(found["OPEN-PLACE"]["url"]).startswith("https://harbour.test/events/")
    # Only a public place with no reveal time to come.
    assert str(found["OPEN-PLACE"]["location"]) == "OPEN-VENUE, OPEN-ADDRESS"
    text = response.get_data(as_text=True)
    for marker in ("LATER-ADDRESS", "MEMBER-ADDRESS", "MEMBER-LINK", "ATTENDEE-ADDRESS",
                   "MEMBERSONLY", "DRAFT", "PAST-EVENT", "FAR-EVENT", "UNLISTED"):
        assert marker not in text


@pytest.mark.parametrize("url", ["/hubs/cal-unlisted/events.ics", "/hubs/nope/events.ics",
                                 "/chapters/zz/events.ics"])
def test_calendars_of_hidden_or_missing_hubs_are_404(client, cal, url):
    assert client.get(url).status_code == 404


# --- personal calendar ------------------------------------------------------------------

CALENDAR_LINK = re.compile(r"https://harbour\.test(/calendar/[A-Za-z0-9_-]+\.ics)")


def issue_link(client) -> str:
    page = client.get("/account/calendar")
    assert page.status_code == 200
    response = client.post("/account/calendar", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    match = CALENDAR_LINK.search(response.get_data(as_text=True))
    assert match
    return match.group(1)


@pytest.fixture
def member(cal):
    user = make_user("cal-member@example.org", locale="en")
    make_membership(user, cal["hub"])
    make_rsvp(cal["members"], user, RsvpStatus.WAITLISTED)
    make_rsvp(cal["attendees"], user, RsvpStatus.GOING)
    make_rsvp(cal["later"], user, RsvpStatus.PENDING)
    make_rsvp(cal["public"], user, RsvpStatus.DECLINED)
    return user


def test_settings_page_needs_sign_in(client):
    response = client.get("/account/calendar")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_personal_calendar_shows_own_rsvps_with_places_per_tier(app, client, member):
    login_as(client, member)
    path = issue_link(client)
    token = path.removeprefix("/calendar/").removesuffix(".ics")
    assert len(token) == 43
    db.session.expire_all()
    stored = db.session.scalar(select(User.calendar_token_hash).where(User.id == member.id))
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored

    response = app.test_client().get(path)  # calendar apps have no session
    calendar = parse(response)
    assert_zoned(calendar)
    titles = {str(e["summary"]) for e in calendar.walk("VEVENT")}
    assert titles == {"ATTENDEE-PLACE", "MEMBER-PLACE (On the waiting list)",
                      "LATER-PLACE (Waiting for approval)"}
    text = response.get_data(as_text=True)
    assert "ATTENDEE-ADDRESS" in text  # confirmed: the attendees-only address
    assert "MEMBER-ADDRESS" in text  # an active member sees the members tier
    assert "MEMBER-LINK" not in text  # the link is for confirmed attendees only
    assert "LATER-ADDRESS" not in text  # not revealed yet
    assert "OPEN-PLACE" not in text  # declined


def test_personal_calendar_follows_the_members_language(app, client, member):
    member.locale = "zh_Hant_HK"
    login_as(client, member)
    path = issue_link(client)
    calendar = parse(app.test_client().get(path, headers={"Accept-Language": "en"}))
    titles = {str(e["summary"]) for e in calendar.walk("VEVENT")}
    assert not any("On the waiting list" in t for t in titles)


def test_replacing_and_revoking_the_link(app, client, member):
    login_as(client, member)
    first = issue_link(client)
    second = issue_link(client)
    outsider = app.test_client()
    assert first != second
    assert outsider.get(first).status_code == 404
    assert outsider.get(second).status_code == 200
    page = client.get("/account/calendar")
    response = client.post("/account/calendar/revoke", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert outsider.get(second).status_code == 404
    db.session.expire_all()
    assert db.session.get(User, member.id).calendar_token_hash is None
    assert "Create my calendar link" in client.get("/account/calendar").get_data(as_text=True)


@pytest.mark.parametrize("token", ["x", "A" * 43, "../../etc", "A" * 200])
def test_unknown_tokens_are_404(client, member, token):
    response = client.get(f"/calendar/{token}.ics")
    assert response.status_code == 404


def test_disabled_account_calendar_is_404(app, client, member):
    login_as(client, member)
    path = issue_link(client)
    member.disabled_at = utcnow()
    db.session.flush()
    assert app.test_client().get(path).status_code == 404


def test_calendar_posts_need_csrf(client, member):
    login_as(client, member)
    assert client.post("/account/calendar").status_code == 400
    assert client.post("/account/calendar/revoke").status_code == 400


def _icalendars_own_bytes(app, events: list, places: dict) -> bytes:
    """The calendar as icalendar itself writes it (add_component, then
    add_missing_timezones), its VTIMEZONEs put in name order."""
    from icalendar import Calendar as IcsCalendar

    from community import calendars
    from community.i18n import localized

    reference = calendars.new_calendar("Events")
    for event in events:
        reference.add_component(calendars._entry(
            event, summary=localized(event, "title").text, location=places.get(event.id)))
    reference.add_missing_timezones()
    zones = sorted(reference.timezones, key=lambda zone: zone.tz_name)
    others = [c for c in reference.subcomponents if c.name != "VTIMEZONE"]
    reference.subcomponents[:] = [*zones, *others]
    assert isinstance(reference, IcsCalendar)
    return reference.to_ical()


def test_a_calendar_joined_from_kept_pieces_is_what_icalendar_writes(app, cal):
    """Issue 14: a calendar is joined from VEVENTs and VTIMEZONEs serialised once
    each; byte for byte it is icalendar's own file, and an edit shows at once."""
    from community import calendars

    events = [cal["public"], cal["later"], cal["members"], cal["cancelled"]]
    places = {cal["public"].id: "OPEN-VENUE, OPEN-ADDRESS"}
    with app.test_request_context():
        for _ in range(2):  # made, then from the kept pieces
            joined = calendars.CalendarFile("Events")
            for event in events:
                joined.add(event, location=places.get(event.id))
            assert joined.to_bytes() == _icalendars_own_bytes(app, events, places)
        assert b"BEGIN:VTIMEZONE" in joined.to_bytes()
        cal["public"].title_en = "RENAMED-PLACE"
        cal["public"].updated_at = utcnow()
        db.session.flush()
        again = calendars.CalendarFile("Events")
        again.add(cal["public"], location="ELSEWHERE")
        body = again.to_bytes()
        assert b"RENAMED-PLACE" in body and b"ELSEWHERE" in body
        assert b"OPEN-VENUE" not in body
