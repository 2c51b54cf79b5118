"""Organisers' event pages: list, create, edit, publish, cancel, duplicate
(community/events/manage.py) — permissions (R8, R9, R20), mass assignment
(R10), bad input, daylight saving, audit entries and the cancellation email (R44)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pyotp
import pytest
from markupsafe import escape
from sqlalchemy import func, select

from community.audit_models import AuditEntry
from community.database import utcnow
from community.events.models import Audience, Event, EventMode, EventStatus, RsvpStatus, Tier
from community.extensions import db
from community.factories import (
    make_chapter,
    make_coordinator,
    make_event,
    make_hub,
    make_membership,
    make_rsvp,
    make_user,
)
from community.hubs.models import HubStatus, MemberRole, MembershipStatus
from tests.conftest import csrf_token, login_as, outbox

ADDRESS = "MARKER-ADDRESS 12 Secret Street"
VENUE = "MARKER-VENUE community hall"
LINK = "https://meet.example/MARKER-LINK"
ROLES = ["visitor", "stranger", "pending", "member", "other_organiser", "organiser", "lead",
         "coordinator", "admin"]
STAFF = {"organiser", "lead", "coordinator", "admin"}


@pytest.fixture
def world():
    chapter = make_chapter("em", default_timezone="Europe/London")
    hub = make_hub(chapter, "manage-hub", name_en="Manage Hub")
    other_hub = make_hub(make_chapter("eo"), "other-hub")
    users = {role: make_user(f"{role}@manage.example", is_site_admin=role == "admin",
                             totp_secret=pyotp.random_base32()
                             if role in STAFF | {"other_organiser"} else None)
             for role in ROLES if role != "visitor"}
    make_membership(users["pending"], hub, status=MembershipStatus.PENDING)
    make_membership(users["member"], hub)
    make_membership(users["organiser"], hub, MemberRole.ORGANISER)
    make_membership(users["lead"], hub, MemberRole.LEAD)
    make_membership(users["other_organiser"], other_hub, MemberRole.ORGANISER)
    make_coordinator(users["coordinator"], chapter)
    return {"hub": hub, "other_hub": other_hub, "users": users, "chapter": chapter}


def client_for(app, user):
    client = app.test_client()
    return login_as(client, user) if user is not None else client


def organiser(app, world):
    return client_for(app, world["users"]["organiser"])


def form_data(**overrides) -> dict:
    """A complete, valid event form: a summer afternoon in London."""
    data = {
        "title_en": "Summer picnic", "title_zh": "", "description_en": "",
        "description_zh": "", "timezone": "Europe/London",
        "start_date": "2031-06-14", "start_time": "14:00",
        "end_date": "2031-06-14", "end_time": "17:30",
        "mode": "in_person", "venue": "", "address": "", "location_visibility": "public",
        "online_url": "", "online_visibility": "attendees", "reveal_hours": "",
        "audience": "public", "capacity": "", "max_guests": "0", "waitlist_enabled": "y",
        "rsvp_opens_date": "", "rsvp_opens_time": "", "rsvp_closes_date": "",
        "rsvp_closes_time": "", "lang_en": "y", "other_languages": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def post_new(client, hub, **overrides):
    page = client.get(f"/hubs/{hub.slug}/events/new")
    return client.post(f"/hubs/{hub.slug}/events/new",
                       data={"csrf_token": csrf_token(page), **form_data(**overrides)})


def post_edit(client, event, data: dict):
    page = client.get(f"/events/{event.public_id}/edit")
    return client.post(f"/events/{event.public_id}/edit",
                       data={"csrf_token": csrf_token(page), **data})


def post_action(client, event, action: str, **data):
    page = client.get(f"/events/{event.public_id}/edit")
    return client.post(f"/events/{event.public_id}/{action}",
                       data={"csrf_token": csrf_token(page), **data})


def events_of(hub) -> list[Event]:
    return list(db.session.scalars(select(Event).where(Event.hub_id == hub.id)
                                   .order_by(Event.id)))


def audit_entries(action: str | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.target_type == "event").order_by(AuditEntry.id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return list(db.session.scalars(stmt))


def reload(event: Event) -> Event:
    db.session.expire_all()
    return db.session.get(Event, event.id)


def text(response) -> str:
    return response.get_data(as_text=True)


# --- who may use the pages (R8, R9, R20) -------------------------------------------------

def route_urls(world, event):
    slug = world["hub"].slug
    return [
        ("GET", f"/hubs/{slug}/events"),
        ("GET", f"/hubs/{slug}/events/new"),
        ("POST", f"/hubs/{slug}/events/new"),
        ("GET", f"/events/{event.public_id}/edit"),
        ("POST", f"/events/{event.public_id}/edit"),
        ("POST", f"/events/{event.public_id}/publish"),
        ("POST", f"/events/{event.public_id}/cancel"),
        ("POST", f"/events/{event.public_id}/duplicate"),
    ]


def outcome(response):
    location = response.headers.get("Location", "")
    if response.status_code == 302 and location.startswith("/sign-in"):
        return "login"
    return response.status_code


def mask(response) -> str:
    return re.sub(r'value="[^"]*"', "", text(response))


# What staff get from an empty form (only a CSRF token): the list and forms,
# forms sent back with their errors (400), or post/redirect/get (302).
STAFF_OUTCOME = {
    ("GET", "list"): 200, ("GET", "new"): 200, ("POST", "new"): 400,
    ("GET", "edit"): 200, ("POST", "edit"): 400, ("POST", "publish"): 302,
    ("POST", "cancel"): 400, ("POST", "duplicate"): 302,
}


def test_r8_only_the_hubs_organisers_get_the_pages(app, world):
    event = make_event(world["hub"], status=EventStatus.DRAFT)
    for method, url in route_urls(world, event):
        kind = "list" if url.endswith("/events") else url.rsplit("/", 1)[-1]
        for role in ROLES:
            client = client_for(app, world["users"].get(role))
            token = csrf_token(client.get("/"))
            response = (client.get(url) if method == "GET"
                        else client.post(url, data={"csrf_token": token}))
            if role == "visitor":
                expected = "login"
            elif role in STAFF:
                expected = STAFF_OUTCOME[(method, kind)]
            else:
                expected = 404
            assert outcome(response) == expected, (method, url, role)


def test_r8_an_existing_event_of_another_hub_looks_like_a_missing_one(app, world):
    event = make_event(world["hub"])
    stranger = client_for(app, world["users"]["other_organiser"])
    missing = stranger.get("/events/no-such-event-id-00000/edit")
    theirs = stranger.get(f"/events/{event.public_id}/edit")
    assert missing.status_code == theirs.status_code == 404
    assert mask(missing) == mask(theirs)
    # Not even a plausible id with odd characters reaches the database.
    assert stranger.get("/events/%00abc/edit").status_code == 404
    assert organiser(app, world).get("/hubs/%00/events").status_code == 404
    member = client_for(app, world["users"]["member"])
    assert mask(member.get(f"/hubs/{world['hub'].slug}/events")) == mask(
        member.get("/hubs/no-such-hub/events"))


def test_r20_organisers_without_two_factor_are_sent_to_turn_it_on(app, world):
    user = make_user("no2fa@manage.example")
    make_membership(user, world["hub"], MemberRole.ORGANISER)
    event = make_event(world["hub"])
    client = client_for(app, user)
    for url in (f"/hubs/{world['hub'].slug}/events", f"/events/{event.public_id}/edit"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/account/two-factor")


def test_archived_hubs_events_are_not_managed(app, world):
    event = make_event(world["hub"])
    world["hub"].status = HubStatus.ARCHIVED
    db.session.flush()
    client = organiser(app, world)
    assert client.get(f"/hubs/{world['hub'].slug}/events").status_code == 404
    assert client.get(f"/events/{event.public_id}/edit").status_code == 404


def test_r9_an_organiser_cannot_touch_another_hubs_events(app, world):
    theirs = make_event(world["other_hub"], title_en="Theirs")
    client = organiser(app, world)
    token = csrf_token(client.get(f"/hubs/{world['hub'].slug}/events"))
    for action in ("edit", "publish", "cancel", "duplicate"):
        response = client.post(f"/events/{theirs.public_id}/{action}",
                               data={"csrf_token": token, **form_data(), "message": "x"})
        assert response.status_code == 404, action
    assert reload(theirs).title_en == "Theirs"
    assert reload(theirs).status is EventStatus.PUBLISHED
    assert len(events_of(world["other_hub"])) == 1
    assert audit_entries() == []


@pytest.mark.parametrize("action", ["new", "edit", "publish", "cancel", "duplicate"])
def test_r26_a_post_without_csrf_token_is_refused(app, world, action):
    event = make_event(world["hub"], status=EventStatus.DRAFT)
    client = organiser(app, world)
    url = (f"/hubs/{world['hub'].slug}/events/new" if action == "new"
           else f"/events/{event.public_id}/{action}")
    response = client.post(url, data={**form_data(), "message": "Rain."})
    assert response.status_code == 400
    assert len(events_of(world["hub"])) == 1
    assert reload(event).status is EventStatus.DRAFT
    assert audit_entries() == []


# --- creating ----------------------------------------------------------------------------

def test_create_saves_a_draft_in_utc_with_an_audit_entry(app, world):
    client = organiser(app, world)
    response = post_new(client, world["hub"], title_zh="夏日野餐", venue=VENUE,
                        address=ADDRESS, capacity="30", max_guests="2",
                        other_languages="fr, ja zh-hant", lang_yue="y",
                        description_en="**Bring** food")
    [event] = events_of(world["hub"])
    assert response.status_code == 302
    assert response.headers["Location"] == f"/events/{event.public_id}/edit"
    assert event.status is EventStatus.DRAFT and event.published_at is None
    # 14:00 British Summer Time is 13:00 UTC.
    assert event.starts_at == datetime(2031, 6, 14, 13, 0, tzinfo=UTC)
    assert event.ends_at == datetime(2031, 6, 14, 16, 30, tzinfo=UTC)
    assert event.timezone == "Europe/London"
    assert (event.title_en, event.title_zh) == ("Summer picnic", "夏日野餐")
    assert event.description_en == "**Bring** food"  # the Markdown source, never HTML
    assert (event.capacity, event.max_guests, event.waitlist_enabled) == (30, 2, True)
    assert event.languages == "yue en fr ja zh-Hant"
    assert event.created_by_id == world["users"]["organiser"].id
    [entry] = audit_entries()
    assert (entry.action, entry.target_id, entry.actor_id, entry.hub_id, entry.chapter_id) == (
        "event.create", event.public_id, world["users"]["organiser"].id, world["hub"].id,
        world["chapter"].id)
    page = text(client.get(f"/events/{event.public_id}/edit"))
    assert "saved as a draft" in page


def test_the_description_is_rendered_and_sanitised_on_the_page(app, world):
    client = organiser(app, world)
    source = "**Bring** food <script>alert(1)</script> [x](javascript:alert(2))"
    post_new(client, world["hub"], description_en=source)
    [event] = events_of(world["hub"])
    assert event.description_en == source
    page = text(client.get(f"/events/{event.public_id}"))
    assert "<strong>Bring</strong>" in page
    assert "<script>alert(1)" not in page and 'href="javascript:' not in page


def test_the_form_defaults_to_the_hubs_zone_and_approval_setting(app, world):
    world["hub"].timezone = "Asia/Taipei"
    world["hub"].rsvp_approval_default = True
    db.session.flush()
    page = text(organiser(app, world).get(f"/hubs/{world['hub'].slug}/events/new"))
    assert 'value="Asia/Taipei"' in page
    assert re.search(r'<input[^>]*checked[^>]*name="rsvp_approval"|'
                     r'<input[^>]*name="rsvp_approval"[^>]*checked', page)
    assert re.search(r'<option selected value="public">|<option value="public" selected',
                     page)


def test_a_high_risk_hub_starts_new_events_with_the_safe_choices(app, world):
    hub = world["hub"]
    hub.high_risk = True
    db.session.flush()
    client = organiser(app, world)
    page = text(client.get(f"/hubs/{hub.slug}/events/new"))
    for name in ("rsvp_approval", "hide_attendee_count"):
        assert re.search(rf'<input[^>]*checked[^>]*name="{name}"|'
                         rf'<input[^>]*name="{name}"[^>]*checked', page), name
    for name in ("location_visibility", "online_visibility"):
        select_html = re.search(rf'<select[^>]*name="{name}".*?</select>', page, re.S).group(0)
        assert re.search(r'<option selected value="attendees"|'
                         r'<option value="attendees" selected', select_html), name
    # Sending the form as shown keeps them.
    post_new(client, hub, location_visibility="attendees", online_visibility="attendees",
             rsvp_approval="y", hide_attendee_count="y")
    [event] = events_of(hub)
    assert event.location_visibility is Tier.ATTENDEES
    assert event.online_visibility is Tier.ATTENDEES
    assert event.rsvp_approval and event.hide_attendee_count


def test_online_event_with_a_reveal_time(app, world):
    post_new(organiser(app, world), world["hub"], mode="hybrid", online_url=LINK,
             online_visibility="members", reveal_hours="24", audience="members")
    [event] = events_of(world["hub"])
    assert event.mode is EventMode.HYBRID and event.online_url == LINK
    assert event.online_visibility is Tier.MEMBERS and event.audience is Audience.MEMBERS
    assert event.location_reveal_at == event.starts_at - timedelta(hours=24)


def test_rsvp_window_is_entered_in_the_events_zone(app, world):
    post_new(organiser(app, world), world["hub"], timezone="Australia/Sydney",
             rsvp_opens_date="2031-06-01", rsvp_opens_time="09:00",
             rsvp_closes_date="2031-06-13", rsvp_closes_time="23:59")
    [event] = events_of(world["hub"])
    assert event.timezone == "Australia/Sydney"
    # Winter in Sydney: UTC+10.
    assert event.starts_at == datetime(2031, 6, 14, 4, 0, tzinfo=UTC)
    assert event.rsvp_opens_at == datetime(2031, 5, 31, 23, 0, tzinfo=UTC)
    assert event.rsvp_closes_at == datetime(2031, 6, 13, 13, 59, tzinfo=UTC)


def test_a_time_that_happens_twice_takes_the_first_and_says_so(app, world):
    client = organiser(app, world)
    response = post_new(client, world["hub"], start_date="2031-10-26", start_time="01:30",
                        end_date="2031-10-26", end_time="03:00")
    assert response.status_code == 302
    [event] = events_of(world["hub"])
    assert event.starts_at == datetime(2031, 10, 26, 0, 30, tzinfo=UTC)  # 01:30 BST
    assert "happens twice" in text(client.get(response.headers["Location"]))


# --- bad input: a message, the input kept, nothing saved ----------------------------------

BAD_INPUT = {
    "garbage start date": ({"start_date": "next tuesday"}, "Enter a date such as"),
    "impossible date": ({"start_date": "2031-02-30"}, "Enter a date such as"),
    "garbage time": ({"start_time": "25:99"}, "Enter a time such as"),
    "date out of range": ({"start_date": "1066-10-14"}, "from the year 2000 to 2100"),
    "missing start": ({"start_date": ""}, "Enter the date the event starts."),
    "end before start": ({"end_time": "13:00"}, "must end after it starts"),
    "end equals start": ({"end_time": "14:00"}, "must end after it starts"),
    "dst gap start": ({"start_date": "2031-03-30", "start_time": "01:30",
                       "end_date": "2031-03-30", "end_time": "04:00"},
                      "does not exist in Europe/London"),
    "dst gap end": ({"start_date": "2031-03-29", "start_time": "22:00",
                     "end_date": "2031-03-30", "end_time": "01:15"},
                    "does not exist in Europe/London"),
    "invalid zone": ({"timezone": "Mars/Olympus_Mons"}, "We do not know that time zone."),
    "empty zone": ({"timezone": ""}, "Enter a time zone"),
    "negative capacity": ({"capacity": "-1"}, "Enter a number from 0 to 100000"),
    "huge capacity": ({"capacity": str(10**12)}, "Enter a number from 0 to 100000"),
    "endless capacity": ({"capacity": "9" * 5000}, "Enter a whole number"),
    "word capacity": ({"capacity": "lots"}, "Enter a whole number"),
    "too many guests": ({"max_guests": "21"}, "Enter a number from 0 to 20."),
    "reveal too early": ({"reveal_hours": "169"}, "hours from 0 to 168"),
    "javascript link": ({"online_url": "javascript:alert(1)"}, "starts with https://"),
    "plain http link": ({"online_url": "http://meet.example/x"}, "starts with https://"),
    "data link": ({"online_url": "data:text/html,hi"}, "starts with https://"),
    "overlong title": ({"title_en": "T" * 201}, "Use at most 200 characters."),
    "overlong zh title": ({"title_zh": "長" * 201}, "Use at most 200 characters."),
    "overlong description": ({"description_en": "d" * 20001},
                             "Use at most 20000 characters."),
    "no title": ({"title_en": "   ", "title_zh": ""}, "Give the event a title"),
    "control characters": ({"title_en": "Picnic\x07"}, "Use one line of text"),
    "line break in title": ({"title_en": "Picnic\nParty"}, "Use one line of text"),
    "control in description": ({"description_en": "Hello\x1b[31m"},
                               "Remove the invisible control characters"),
    "unknown mode": ({"mode": "telepathy"}, "Choose one of the options in the list."),
    "unknown audience": ({"audience": "friends"}, "Choose one of the options in the list."),
    "unknown tier": ({"location_visibility": "everyone"},
                     "Choose one of the options in the list."),
    "bad language tag": ({"other_languages": "english!"}, "is not a language tag"),
    "rsvp time without date": ({"rsvp_opens_time": "09:00"}, "Enter the date as well"),
    "rsvp closes before opens": ({"rsvp_opens_date": "2031-06-10", "rsvp_opens_time": "09:00",
                                  "rsvp_closes_date": "2031-06-01",
                                  "rsvp_closes_time": "09:00"},
                                 "RSVPs must close after they open."),
}


CHOICES = {"mode", "audience", "location_visibility", "online_visibility"}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_gets_a_message_and_keeps_the_input(app, world, case):
    overrides, message = BAD_INPUT[case]
    client = organiser(app, world)
    response = post_new(client, world["hub"], **{"title_en": "Kept title", **overrides})
    page = text(response)
    assert response.status_code == 400
    assert message in page.replace("&#34;", '"').replace("&#39;", "'"), page[-3000:]
    assert 'role="alert"' in page and 'aria-invalid="true"' in page
    assert events_of(world["hub"]) == []
    assert audit_entries() == []
    # What was typed is still there to correct; a select can only show its options.
    typed = {"title_en": "Kept title", **overrides}
    for name, value in typed.items():
        if name not in CHOICES and value.strip():
            assert str(escape(value)) in page, name


def test_nul_characters_never_reach_the_database(app, world):
    # PostgreSQL refuses NUL in text; it is dropped from every form value.
    client = organiser(app, world)
    response = post_new(client, world["hub"], title_en="Pic\x00nic", venue="Hall\x00",
                        description_en="Hi\x00there", timezone="Europe/London\x00",
                        start_date="2031-06-14\x00", other_languages="fr\x00")
    assert response.status_code == 302
    [event] = events_of(world["hub"])
    assert (event.title_en, event.venue, event.description_en, event.languages) == (
        "Picnic", "Hall", "Hithere", "en fr")


def test_the_edit_page_refuses_bad_input_too_and_keeps_the_event(app, world):
    event = make_event(world["hub"], title_en="Original")
    client = organiser(app, world)
    response = post_edit(client, event, form_data(title_en="Changed", end_date="2031-06-13"))
    assert response.status_code == 400
    assert "must end after it starts" in text(response)
    assert 'value="Changed"' in text(response)
    assert reload(event).title_en == "Original"


# --- no mass assignment (R10) -----------------------------------------------------------

EXTRA = {"status": "published", "published_at": "2020-01-01 00:00", "public_id": "chosen-id",
         "created_by_id": "1", "cancel_message": "x", "series_id": "s", "id": "999",
         "recurrence_rule": "FREQ=DAILY"}


def test_r10_extra_fields_on_create_change_nothing(app, world):
    client = organiser(app, world)
    post_new(client, world["hub"], hub_id=str(world["other_hub"].id),
             created_by_id=str(world["users"]["admin"].id),
             **{k: v for k, v in EXTRA.items() if k != "created_by_id"})
    [event] = events_of(world["hub"])
    assert events_of(world["other_hub"]) == []
    assert event.status is EventStatus.DRAFT and event.published_at is None
    assert event.public_id != "chosen-id" and event.cancel_message == ""
    assert event.created_by_id == world["users"]["organiser"].id
    assert event.series_id is None and event.recurrence_rule == ""


def test_r10_extra_fields_on_edit_change_nothing(app, world):
    event = make_event(world["hub"], status=EventStatus.DRAFT,
                       created_by_id=world["users"]["lead"].id)
    before = (event.public_id, event.hub_id, event.status, event.created_by_id, event.id)
    client = organiser(app, world)
    post_edit(client, event, {**form_data(title_en="Renamed"), **EXTRA,
                              "hub_id": str(world["other_hub"].id)})
    event = reload(event)
    assert event.title_en == "Renamed"
    assert (event.public_id, event.hub_id, event.status, event.created_by_id, event.id) == before
    assert event.published_at is None and event.cancel_message == ""


# --- editing -----------------------------------------------------------------------------

def test_the_edit_form_shows_the_events_wall_clock_times(app, world):
    event = make_event(world["hub"], timezone="Australia/Sydney",
                       starts_at=datetime(2031, 1, 10, 8, 30, tzinfo=UTC))
    page = text(organiser(app, world).get(f"/events/{event.public_id}/edit"))
    # 08:30 UTC is 19:30 daylight time in Sydney.
    assert 'value="2031-01-10"' in page and 'value="19:30"' in page
    assert 'value="Australia/Sydney"' in page


def test_edit_saves_changes_with_an_audit_entry(app, world):
    # An evening event, so that moving its start to the morning keeps it before the end.
    event = make_event(world["hub"], title_en="Old title", address=ADDRESS,
                       starts_at=datetime(2031, 3, 11, 18, 0, tzinfo=UTC))
    client = organiser(app, world)
    data = {**form_data(), **_current_form(client, event)}
    data.update(title_en="New title", start_time="09:15", capacity="12")
    response = post_edit(client, event, data)
    assert response.status_code == 302
    event = reload(event)
    assert event.title_en == "New title" and event.capacity == 12
    assert event.address == ADDRESS
    assert event.starts_at.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M") == "09:15"
    [entry] = audit_entries("event.edit")
    assert entry.target_id == event.public_id and entry.hub_id == world["hub"].id
    assert "title_en" in entry.detail and "capacity" in entry.detail
    assert ADDRESS not in entry.detail


def _current_form(client, event) -> dict:
    """The edit form's values as a browser would send them back unchanged."""
    page = text(client.get(f"/events/{event.public_id}/edit"))
    form = page.split('action="/events/' + event.public_id + '/edit"')[1].split("</form>")[0]
    data = {}
    for match in re.finditer(r"<input([^>]*)>", form):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', match.group(1)))
        name = attrs.get("name")
        if not name or name == "csrf_token":
            continue
        if attrs.get("type") == "checkbox":
            if "checked" in match.group(1):
                data[name] = attrs.get("value", "y")
        else:
            data[name] = _unescape(attrs.get("value", ""))
    for match in re.finditer(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        # Browsers drop the line break that follows <textarea>.
        data[match.group(1)] = re.sub(r"\A\r?\n", "", _unescape(match.group(2)))
    for match in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected',
                           match.group(2))
        if chosen:
            data[match.group(1)] = chosen.group(1) or chosen.group(2)
    return data


def _unescape(value: str) -> str:
    import html

    return html.unescape(value)


def test_saving_the_form_unchanged_changes_nothing(app, world):
    # Factory times carry seconds; the form shows minutes and must not move them.
    event = make_event(world["hub"], starts_at=utcnow() + timedelta(days=3, seconds=17),
                       address=ADDRESS, capacity=5, languages="yue fr")
    before = (event.starts_at, event.ends_at, event.updated_at)
    client = organiser(app, world)
    response = post_edit(client, event, _current_form(client, event))
    assert response.status_code == 302
    assert "Nothing was changed." in text(client.get(response.headers["Location"]))
    event = reload(event)
    assert (event.starts_at, event.ends_at) == before[:2]
    assert audit_entries("event.edit") == []


def test_capacity_cannot_drop_below_the_places_taken(app, world):
    event = make_event(world["hub"], capacity=10)
    make_rsvp(event, world["users"]["member"], guests=2)
    make_rsvp(event, world["users"]["stranger"])
    client = organiser(app, world)
    data = {**_current_form(client, event), "capacity": "3"}
    response = post_edit(client, event, data)
    assert response.status_code == 400
    assert "4 places are already taken" in text(response)
    assert reload(event).capacity == 10
    data["capacity"] = "4"
    assert post_edit(client, event, data).status_code == 302
    assert reload(event).capacity == 4


def test_more_places_move_people_up_from_the_waiting_list(app, world):
    event = make_event(world["hub"], capacity=1)
    make_rsvp(event, world["users"]["member"])
    waiting = make_rsvp(event, world["users"]["stranger"], RsvpStatus.WAITLISTED)
    client = organiser(app, world)
    post_edit(client, event, {**_current_form(client, event), "capacity": "2"})
    db.session.expire_all()
    assert waiting.status is RsvpStatus.GOING
    [email] = outbox("stranger@manage.example")
    assert "place opened up" in email.subject.lower()


def test_an_event_can_be_made_invite_only_and_stays_so(app, world):
    invite_only = make_event(world["hub"], audience=Audience.INVITE)
    public = make_event(world["hub"], audience=Audience.PUBLIC)
    client = organiser(app, world)
    data = _current_form(client, invite_only)
    assert data["audience"] == "invite"
    post_edit(client, invite_only, {**data, "title_en": "Renamed"})
    assert reload(invite_only).audience is Audience.INVITE
    assert reload(invite_only).title_en == "Renamed"
    # Any event can be made invite-only; then it leaves every listing.
    assert 'value="invite"' in text(client.get(f"/events/{public.public_id}/edit"))
    post_edit(client, public, {**_current_form(client, public), "audience": "invite"})
    assert reload(public).audience is Audience.INVITE
    assert reload(public).title_en not in text(app.test_client().get("/events"))


def test_changing_the_zone_keeps_the_wall_clock_times(app, world):
    client = organiser(app, world)
    post_new(client, world["hub"])
    [event] = events_of(world["hub"])
    post_edit(client, event, {**_current_form(client, event), "timezone": "Asia/Hong_Kong"})
    event = reload(event)
    assert event.timezone == "Asia/Hong_Kong"
    assert event.starts_at == datetime(2031, 6, 14, 6, 0, tzinfo=UTC)  # 14:00 HKT


# --- publishing ----------------------------------------------------------------------------

def test_publish_makes_a_draft_visible(app, world):
    event = make_event(world["hub"], status=EventStatus.DRAFT)
    member = client_for(app, world["users"]["member"])
    assert member.get(f"/events/{event.public_id}").status_code == 404
    client = organiser(app, world)
    response = post_action(client, event, "publish")
    assert response.status_code == 302
    event = reload(event)
    assert event.status is EventStatus.PUBLISHED
    assert abs(event.published_at - utcnow()) < timedelta(minutes=1)
    assert member.get(f"/events/{event.public_id}").status_code == 200
    [entry] = audit_entries("event.publish")
    assert entry.target_id == event.public_id and entry.actor_id == world["users"][
        "organiser"].id
    # Publishing twice is refused with a message, not an error page.
    response = post_action(client, event, "publish")
    assert response.status_code == 302
    assert "already published" in text(client.get(response.headers["Location"]))
    assert len(audit_entries("event.publish")) == 1


def test_an_event_that_is_over_is_not_published(app, world):
    event = make_event(world["hub"], status=EventStatus.DRAFT,
                       starts_at=utcnow() - timedelta(days=2))
    client = organiser(app, world)
    response = post_action(client, event, "publish")
    assert "This event is over." in text(client.get(response.headers["Location"]))
    assert reload(event).status is EventStatus.DRAFT


# --- cancelling (R44) --------------------------------------------------------------------------

def test_cancel_emails_everyone_who_answered_once_in_their_language(app, world):
    users = world["users"]
    users["lead"].locale = "zh_Hant_HK"
    event = make_event(world["hub"], title_en="Harbour walk", title_zh="海港漫步",
                       venue=VENUE, address=ADDRESS, online_url=LINK,
                       location_visibility=Tier.PUBLIC, online_visibility=Tier.PUBLIC)
    make_rsvp(event, users["member"])
    make_rsvp(event, users["stranger"], RsvpStatus.WAITLISTED)
    make_rsvp(event, users["pending"], RsvpStatus.PENDING)
    make_rsvp(event, users["lead"], RsvpStatus.DECLINED)
    bystander = make_user("bystander@manage.example")
    make_membership(bystander, world["hub"])
    client = organiser(app, world)

    response = post_action(client, event, "cancel", message="Storm warning. Sorry!")
    assert response.status_code == 302
    assert "emailing the 4 people" in text(client.get(response.headers["Location"]))
    event = reload(event)
    assert event.status is EventStatus.CANCELLED
    assert event.cancel_message == "Storm warning. Sorry!"
    [entry] = audit_entries("event.cancel")
    assert entry.target_id == event.public_id and entry.hub_id == world["hub"].id

    emails = outbox()
    assert sorted(e.to_address for e in emails) == sorted(
        f"{role}@manage.example" for role in ("member", "stranger", "pending", "lead"))
    for email in emails:
        everything = email.subject + email.body_text + email.body_html
        assert "MARKER" not in everything  # no address, venue or link (R44)
        assert f"https://harbour.test/events/{event.public_id}" in email.body_text
        assert "Storm warning" not in everything  # title, date and link only
        assert "2031" in email.body_text or str(event.starts_at.year) in email.body_text
        assert not re.search(r"https?://(?!harbour\.test)", everything)
    [chinese] = outbox("lead@manage.example")
    assert "海港漫步" in chinese.subject and "Harbour walk" not in chinese.subject
    assert "你好" in chinese.body_text and "年" in chinese.body_text  # greeting and date
    [english] = outbox("member@manage.example")
    assert "Harbour walk" in english.subject and "cancelled" in english.subject.lower()

    # Nobody is told twice, whatever is posted again.
    response = post_action(client, event, "cancel", message="Again")
    assert response.status_code == 400
    assert "already cancelled" in text(response)
    assert len(outbox()) == 4
    assert reload(event).cancel_message == "Storm warning. Sorry!"


def test_the_page_and_calendar_show_the_event_cancelled(app, world):
    event = make_event(world["hub"])
    post_action(organiser(app, world), event, "cancel", message="Venue flooded.")
    visitor = app.test_client()
    page = text(visitor.get(f"/events/{event.public_id}"))
    assert "This event is cancelled." in page and "Venue flooded." in page
    ics = text(visitor.get(f"/events/{event.public_id}/calendar.ics"))
    assert "STATUS:CANCELLED" in ics


@pytest.mark.parametrize(("message", "expected"), [
    ("", "Write a short message"),
    ("   ", "Write a short message"),
    ("m" * 1001, "Use at most 1000 characters."),
    ("bad\x07bell", "Remove the invisible control characters"),
])
def test_cancel_needs_a_message_of_1_to_1000_characters(app, world, message, expected):
    event = make_event(world["hub"], title_en="Still on")
    make_rsvp(event, world["users"]["member"])
    response = post_action(organiser(app, world), event, "cancel", message=message)
    assert response.status_code == 400
    assert expected in text(response)
    assert reload(event).status is EventStatus.PUBLISHED
    assert outbox() == [] and audit_entries() == []


def test_a_message_of_1000_characters_is_enough(app, world):
    event = make_event(world["hub"])
    response = post_action(organiser(app, world), event, "cancel", message="m" * 1000)
    assert response.status_code == 302
    assert reload(event).cancel_message == "m" * 1000


def test_a_draft_cannot_be_cancelled_into_view(app, world):
    event = make_event(world["hub"], status=EventStatus.DRAFT)
    response = post_action(organiser(app, world), event, "cancel", message="Never mind")
    assert response.status_code == 400
    assert "nothing to cancel" in text(response)
    assert reload(event).status is EventStatus.DRAFT


def test_a_cancelled_event_cannot_be_edited_or_published(app, world):
    event = make_event(world["hub"], status=EventStatus.CANCELLED, cancel_message="Off",
                       title_en="Gone")
    client = organiser(app, world)
    page = text(client.get(f"/events/{event.public_id}/edit"))
    assert "This event is cancelled." in page and 'name="title_en"' not in page
    response = post_edit(client, event, form_data(title_en="Back on"))
    assert response.status_code == 400 and "cannot be changed" in text(response)
    response = post_action(client, event, "publish")
    assert "cannot be published" in text(client.get(response.headers["Location"]))
    event = reload(event)
    assert event.title_en == "Gone" and event.status is EventStatus.CANCELLED


# --- duplicating ---------------------------------------------------------------------------

def test_duplicate_makes_a_draft_a_week_later_at_the_same_local_time(app, world):
    # 19:00 in London on 25 March 2031 (GMT); a week later it is summer time.
    starts = datetime(2031, 3, 25, 19, 0, tzinfo=UTC)
    event = make_event(world["hub"], starts_at=starts, title_en="Weekly meet-up",
                       address=ADDRESS, capacity=20, languages="yue en",
                       location_reveal_at=starts - timedelta(hours=24),
                       rsvp_closes_at=starts - timedelta(hours=1))
    make_rsvp(event, world["users"]["member"])
    client = organiser(app, world)
    response = post_action(client, event, "duplicate")
    copy = events_of(world["hub"])[-1]
    assert copy.id != event.id and copy.public_id != event.public_id
    assert response.headers["Location"] == f"/events/{copy.public_id}/edit"
    assert copy.status is EventStatus.DRAFT and copy.published_at is None
    assert copy.starts_at == datetime(2031, 4, 1, 18, 0, tzinfo=UTC)  # 19:00 BST
    assert copy.ends_at == datetime(2031, 4, 1, 20, 0, tzinfo=UTC)
    assert copy.location_reveal_at == copy.starts_at - timedelta(hours=24)
    assert copy.rsvp_closes_at == datetime(2031, 4, 1, 17, 0, tzinfo=UTC)
    assert (copy.title_en, copy.address, copy.capacity, copy.languages) == (
        "Weekly meet-up", ADDRESS, 20, "yue en")
    assert copy.rsvps == [] and copy.created_by_id == world["users"]["organiser"].id
    [entry] = audit_entries("event.create")
    assert entry.target_id == copy.public_id and event.public_id in entry.detail


def test_a_cancelled_event_can_be_duplicated(app, world):
    event = make_event(world["hub"], status=EventStatus.CANCELLED, cancel_message="Rain")
    post_action(organiser(app, world), event, "duplicate")
    copy = events_of(world["hub"])[-1]
    assert copy.status is EventStatus.DRAFT and copy.cancel_message == ""


# --- the list ------------------------------------------------------------------------------

def test_the_list_shows_each_kind_of_event_in_its_tab(app, world):
    hub = world["hub"]
    make_event(hub, title_en="MARK-upcoming")
    make_event(hub, title_en="MARK-draft", status=EventStatus.DRAFT)
    make_event(hub, title_en="MARK-past", starts_at=utcnow() - timedelta(days=9))
    make_event(hub, title_en="MARK-cancelled", status=EventStatus.CANCELLED)
    make_event(world["other_hub"], title_en="MARK-elsewhere")
    client = organiser(app, world)
    expected = {"upcoming": "MARK-upcoming", "drafts": "MARK-draft", "past": "MARK-past",
                "cancelled": "MARK-cancelled"}
    for tab, title in expected.items():
        page = text(client.get(f"/hubs/{hub.slug}/events?show={tab}"))
        assert list(dict.fromkeys(re.findall(r"MARK-[a-z]+", page))) == [title], tab
        assert "(1)" in page
    assert "MARK-upcoming" in text(client.get(f"/hubs/{hub.slug}/events?show=bogus"))


def test_the_list_is_paginated_soonest_first(app, world):
    hub = world["hub"]
    start = utcnow() + timedelta(days=1)
    for n in range(25):
        make_event(hub, title_en=f"Event-{n:02d}", starts_at=start + timedelta(days=n))
    client = organiser(app, world)
    first = text(client.get(f"/hubs/{hub.slug}/events"))
    second = text(client.get(f"/hubs/{hub.slug}/events?page=2"))

    def titles(page):
        return list(dict.fromkeys(re.findall(r"Event-\d\d", page)))

    assert titles(first) == [f"Event-{n:02d}" for n in range(20)]
    assert titles(second) == [f"Event-{n:02d}" for n in range(20, 25)]
    assert "Page 1 of 2" in first
    assert titles(text(client.get(f"/hubs/{hub.slug}/events?page=x"))) == titles(first)
    assert titles(text(client.get(f"/hubs/{hub.slug}/events?page=99"))) == titles(second)


# --- pages work without JavaScript and are labelled ---------------------------------------

def test_the_form_is_labelled_grouped_and_needs_no_script(app, world):
    client = organiser(app, world)
    event = make_event(world["hub"])
    for url in (f"/hubs/{world['hub'].slug}/events/new", f"/events/{event.public_id}/edit",
                f"/hubs/{world['hub'].slug}/events"):
        page = text(client.get(url))
        assert "<script" not in page
        if "/events/new" in url or "/edit" in url:
            assert page.count("<fieldset>") >= 5 and page.count("<legend>") >= 5
            ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page)
            labelled = set(re.findall(r'<label for="([^"]+)"', page))
            assert ids and set(ids) <= labelled
            assert 'type="date"' in page and 'type="time"' in page


def test_staff_from_the_chapter_and_site_can_create(app, world):
    for role in ("coordinator", "admin", "lead"):
        response = post_new(client_for(app, world["users"][role]), world["hub"],
                            title_en=f"By {role}")
        assert response.status_code == 302, role
    assert db.session.scalar(select(func.count()).select_from(Event)
                             .where(Event.hub_id == world["hub"].id)) == 3
