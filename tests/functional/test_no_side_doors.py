"""No side doors (issue 5 item 12, R3, R44): an attendees-only address and online
link reach a confirmed attendee after the reveal time, on the event page, its own
.ics and their personal calendar, and nowhere else, for nobody else."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine

from community.events.models import RsvpStatus, Tier
from community.events.reminders import send_reminders
from community.extensions import db
from community.factories import (
    make_chapter,
    make_event,
    make_hub,
    make_membership,
    make_rsvp,
    make_user,
)
from tests.conftest import csrf_token, login_as, outbox

ADDRESS = "MARKERADDRESS 12 Secret Street"
LINK = "https://meet.example/MARKERLINK"
MARKERS = ("MARKERADDRESS", "MARKERLINK")

START = datetime(2031, 9, 12, 18, tzinfo=UTC)
REVEAL = START - timedelta(hours=12)
BEFORE, AFTER = REVEAL - timedelta(hours=1), REVEAL + timedelta(hours=1)
VIEWERS = ("visitor", "member", "pending", "confirmed")

# Where each marker may appear: only for the confirmed attendee, only after the reveal.
ALLOWED = {("confirmed", AFTER): {"page", "event.ics", "personal.ics"}}


def unfold(text: str) -> str:
    """Undo iCalendar line folding and escaping, so a marker split over lines is found."""
    return text.replace("\r\n ", "").replace("\r\n\t", "").replace("\\", "")


def personal_calendar_url(client) -> str:
    page = client.get("/account/calendar")
    issued = client.post("/account/calendar", data={"csrf_token": csrf_token(page)})
    match = re.search(r'id="calendar-url"[^>]*value="https://harbour\.test([^"]+)"',
                      issued.get_data(as_text=True))
    assert match, "no personal calendar link on the page"
    return match.group(1)


def surfaces(client, event, hub, chapter, calendar_path: str | None) -> dict[str, str]:
    """Every response an event shows up in, as text, by surface name."""
    def get(path: str) -> str:
        response = client.get(path)
        assert response.status_code == 200, path
        return response.get_data(as_text=True)

    page = get(f"/events/{event.public_id}")
    found = {
        "page": page.split("</head>", 1)[1],
        "head": page.split("</head>", 1)[0],
        "list": get("/events"),
        "hub": get(f"/hubs/{hub.slug}"),
        "chapter": get(f"/chapters/{chapter.code}"),
        "home": get("/"),
        "event.ics": unfold(get(f"/events/{event.public_id}/calendar.ics")),
        "hub.ics": unfold(get(f"/hubs/{hub.slug}/events.ics")),
        "chapter.ics": unfold(get(f"/chapters/{chapter.code}/events.ics")),
        "site.atom": get("/events.atom"),
        "hub.atom": get(f"/hubs/{hub.slug}/events.atom"),
        "chapter.atom": get(f"/chapters/{chapter.code}/events.atom"),
    }
    if calendar_path:
        found["personal.ics"] = unfold(get(calendar_path))
    # The event really is on the listing surfaces, so their silence means something.
    for name in ("list", "hub", "chapter", "hub.ics", "site.atom", "hub.atom"):
        assert "Lantern walk" in found[name], name
    return found


def test_markers_appear_exactly_where_the_tier_and_reveal_time_allow(app):
    with time_machine.travel(START - timedelta(days=5), tick=False):
        chapter = make_chapter("sd")
        hub = make_hub(chapter, "side-doors")
        event = make_event(hub, title_en="Lantern walk", starts_at=START, capacity=3,
                           venue="", address=ADDRESS, online_url=LINK,
                           location_visibility=Tier.ATTENDEES,
                           online_visibility=Tier.ATTENDEES, location_reveal_at=REVEAL)
        people = {name: make_user(f"{name}@side.example") for name in
                  ("member", "pending", "confirmed", "leaver", "waiter")}
        for person in people.values():
            make_membership(person, hub)
        make_rsvp(event, people["pending"], RsvpStatus.PENDING)
        make_rsvp(event, people["confirmed"])
        make_rsvp(event, people["leaver"])
        make_rsvp(event, make_user("filler@side.example"))  # the event is now full
        make_rsvp(event, people["waiter"], RsvpStatus.WAITLISTED)
        calendars = {}
        for name in ("member", "pending", "confirmed"):
            calendars[name] = personal_calendar_url(login_as(app.test_client(), people[name]))

    seen: dict[tuple[str, datetime], set[str]] = {}
    for moment in (BEFORE, AFTER):
        with time_machine.travel(moment, tick=False):
            for viewer in VIEWERS:
                client = app.test_client()
                if viewer != "visitor":
                    login_as(client, people[viewer])
                found = surfaces(client, event, hub, chapter, calendars.get(viewer))
                seen[(viewer, moment)] = {
                    name for name, text in found.items()
                    if any(marker in text for marker in MARKERS)}
                # Where the address shows, the online link shows too (same tier).
                for name in seen[(viewer, moment)]:
                    assert all(marker in found[name] for marker in MARKERS), (viewer, name)

    for key, names in seen.items():
        assert names == ALLOWED.get(key, set()), (key, names)

    # Emails: a waitlist promotion and a reminder, after the reveal time.
    with time_machine.travel(AFTER, tick=False):
        leaver = app.test_client()
        login_as(leaver, people["leaver"])
        page = leaver.get(f"/events/{event.public_id}")
        leaver.post(f"/events/{event.public_id}/withdraw",
                    data={"csrf_token": csrf_token(page)})
        assert send_reminders() >= 2
        db.session.flush()
    emails = outbox()
    kinds = {e.dedupe_key.split(":")[0] for e in emails if e.dedupe_key}
    assert {"waitlist", "reminder"} <= kinds, kinds
    assert any(e.to_address == people["waiter"].email for e in emails)
    for email in emails:
        text = email.subject + email.body_text + email.body_html
        assert not any(marker in text for marker in MARKERS), email.subject
