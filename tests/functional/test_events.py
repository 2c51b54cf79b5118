"""Event pages, location tiers (R3), RSVPs, capacity and the waiting list."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from community.database import utcnow
from community.events.models import Audience, EventStatus, Rsvp, RsvpStatus, Tier
from community.extensions import db
from community.factories import make_event, make_hub, make_membership, make_rsvp, make_user
from community.hubs.models import CountDisplay, HubVisibility, MemberRole
from tests.conftest import csrf_token, login_as, outbox

ADDRESS = "MARKER-ADDRESS 12 Secret Street"
LINK = "https://meet.example/MARKER-LINK"


def answer(client, event, guests=0):
    page = client.get(f"/events/{event.public_id}")
    return client.post(f"/events/{event.public_id}/rsvp",
                       data={"csrf_token": csrf_token(page), "guests": guests})


def withdraw(client, event):
    page = client.get(f"/events/{event.public_id}")
    return client.post(f"/events/{event.public_id}/withdraw",
                       data={"csrf_token": csrf_token(page)})


def status_of(user, event):
    return db.session.scalar(select(Rsvp.status).where(Rsvp.user_id == user.id,
                                                       Rsvp.event_id == event.id))


@pytest.fixture
def people():
    hub = make_hub(slug="tier-hub")
    roles = {name: make_user(f"{name}@tiers.example") for name in
             ("member", "attendee", "waitlisted", "pending", "stranger", "organiser")}
    for name in ("member", "attendee", "waitlisted", "pending"):
        make_membership(roles[name], hub)
    make_membership(roles["organiser"], hub, MemberRole.ORGANISER)
    return hub, roles


def client_for(app, user):
    client = app.test_client()
    return login_as(client, user) if user is not None else client


# Who sees the address, per tier, before any reveal time.
TIER_MATRIX = {
    Tier.PUBLIC: {"visitor", "stranger", "member", "pending", "waitlisted", "attendee",
                  "organiser"},
    Tier.MEMBERS: {"member", "pending", "waitlisted", "attendee", "organiser"},
    Tier.ATTENDEES: {"attendee", "organiser"},
}


@pytest.mark.parametrize("tier", list(Tier))
def test_r3_address_and_link_follow_their_tier_on_page_and_calendar(app, people, tier):
    hub, roles = people
    event = make_event(hub, venue="MARKER-VENUE hall", address=ADDRESS, online_url=LINK,
                       location_visibility=tier, online_visibility=tier)
    make_rsvp(event, roles["attendee"])
    make_rsvp(event, roles["waitlisted"], RsvpStatus.WAITLISTED)
    make_rsvp(event, roles["pending"], RsvpStatus.PENDING)
    for name in ["visitor", *roles]:
        client = client_for(app, roles.get(name))
        page = client.get(f"/events/{event.public_id}").get_data(as_text=True)
        ics = client.get(f"/events/{event.public_id}/calendar.ics").get_data(as_text=True)
        sees = name in TIER_MATRIX[tier]
        for marker in ("MARKER-ADDRESS", "MARKER-VENUE", "MARKER-LINK"):
            assert (marker in page) is sees, (name, marker, "page")
            assert (marker in ics.replace("\r\n ", "")) is sees, (name, marker, "ics")
        if not sees:
            assert "shared with" in page
        # Never in the page's title or metadata.
        head = page.split("</head>")[0]
        assert "MARKER" not in head


def test_r3_nobody_but_organisers_sees_the_address_before_the_reveal_time(app, people):
    hub, roles = people
    reveal = utcnow() + timedelta(days=2)
    event = make_event(hub, address=ADDRESS, location_visibility=Tier.ATTENDEES,
                       location_reveal_at=reveal, starts_at=utcnow() + timedelta(days=3))
    make_rsvp(event, roles["attendee"])
    with time_machine.travel(reveal - timedelta(seconds=1), tick=False):
        attendee = client_for(app, roles["attendee"])
        organiser = client_for(app, roles["organiser"])
        early = attendee.get(f"/events/{event.public_id}").get_data(as_text=True)
        assert "MARKER-ADDRESS" not in early and "will be shared on" in early
        assert "MARKER-ADDRESS" not in attendee.get(
            f"/events/{event.public_id}/calendar.ics").get_data(as_text=True)
        assert "MARKER-ADDRESS" in organiser.get(f"/events/{event.public_id}").get_data(
            as_text=True)
    with time_machine.travel(reveal + timedelta(seconds=1), tick=False):
        attendee = client_for(app, roles["attendee"])
        assert "MARKER-ADDRESS" in attendee.get(f"/events/{event.public_id}").get_data(
            as_text=True)


def test_r3_the_address_never_goes_into_an_email(app, people):
    hub, roles = people
    event = make_event(hub, address=ADDRESS, capacity=1, location_visibility=Tier.PUBLIC)
    make_rsvp(event, roles["attendee"])
    make_rsvp(event, roles["waitlisted"], RsvpStatus.WAITLISTED)
    withdraw(client_for(app, roles["attendee"]), event)
    [email] = outbox(roles["waitlisted"].email)
    assert "place opened up" in email.subject.lower()
    assert "MARKER" not in email.body_text + email.body_html + email.subject
    assert f"/events/{event.public_id}" in email.body_text


def test_members_only_and_draft_events_are_404_like_missing_ones(app, people):
    hub, roles = people
    members_only = make_event(hub, audience=Audience.MEMBERS)
    draft = make_event(hub, status=EventStatus.DRAFT)
    stranger = client_for(app, roles["stranger"])
    missing = stranger.get("/events/no-such-event-id-00000")
    mask = lambda r: re.sub(r'value="[^"]*"', "", r.get_data(as_text=True))  # noqa: E731
    for event in (members_only, draft):
        response = stranger.get(f"/events/{event.public_id}")
        assert response.status_code == 404 and mask(response) == mask(missing)
    member = client_for(app, roles["member"])
    assert member.get(f"/events/{members_only.public_id}").status_code == 200
    assert member.get(f"/events/{draft.public_id}").status_code == 404
    assert client_for(app, roles["organiser"]).get(
        f"/events/{draft.public_id}").status_code == 200


def test_r4_events_of_an_unlisted_hub_are_hidden_from_outsiders(app):
    hub = make_hub(visibility=HubVisibility.UNLISTED)
    event = make_event(hub)
    assert app.test_client().get(f"/events/{event.public_id}").status_code == 404


def test_capacity_counts_guests_then_fills_the_waiting_list(app, people):
    hub, roles = people
    event = make_event(hub, capacity=4, max_guests=2)
    assert answer(client_for(app, roles["member"]), event, guests=2).status_code == 302
    assert status_of(roles["member"], event) is RsvpStatus.GOING
    answer(client_for(app, roles["attendee"]), event, guests=1)
    assert status_of(roles["attendee"], event) is RsvpStatus.WAITLISTED
    # One seat is free, but nobody jumps the queue.
    answer(client_for(app, roles["stranger"]), event)
    assert status_of(roles["stranger"], event) is RsvpStatus.WAITLISTED


def test_withdrawing_deletes_the_answer_and_promotes_the_first_who_fits(app, people):
    hub, roles = people
    event = make_event(hub, capacity=2, max_guests=1)
    make_rsvp(event, roles["member"], guests=1)
    with time_machine.travel(utcnow() + timedelta(seconds=1), tick=False):
        make_rsvp(event, roles["attendee"], RsvpStatus.WAITLISTED, guests=1)
    with time_machine.travel(utcnow() + timedelta(seconds=2), tick=False):
        make_rsvp(event, roles["stranger"], RsvpStatus.WAITLISTED)
    withdraw(client_for(app, roles["member"]), event)
    assert status_of(roles["member"], event) is None
    assert status_of(roles["attendee"], event) is RsvpStatus.GOING
    assert status_of(roles["stranger"], event) is RsvpStatus.WAITLISTED


def test_full_event_without_waiting_list_says_so(app, people):
    hub, roles = people
    event = make_event(hub, capacity=1, waitlist_enabled=False)
    make_rsvp(event, roles["member"])
    client = client_for(app, roles["stranger"])
    answer(client, event)
    assert status_of(roles["stranger"], event) is None
    assert "This event is full." in client.get(f"/events/{event.public_id}").get_data(
        as_text=True)


def test_rsvp_approval_makes_answers_pending(app, people):
    hub, roles = people
    event = make_event(hub, rsvp_approval=True)
    answer(client_for(app, roles["member"]), event)
    assert status_of(roles["member"], event) is RsvpStatus.PENDING


@pytest.mark.parametrize("guests", ["-1", "3", "abc", "99999999999999"])
def test_bad_guest_numbers_are_refused_beside_the_field_keeping_what_was_typed(
        app, people, guests):
    hub, roles = people
    event = make_event(hub, max_guests=2)
    client = client_for(app, roles["member"])
    page = client.get(f"/events/{event.public_id}")
    response = client.post(f"/events/{event.public_id}/rsvp", data={
        "csrf_token": csrf_token(page), "guests": guests, "note": "Step-free entrance, please"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert 'id="guests-error"' in body and 'aria-invalid="true"' in body
    assert f'value="{guests}"' in body
    assert "Step-free entrance, please</textarea>" in body
    assert status_of(roles["member"], event) is None


def test_unverified_people_and_past_events_take_no_rsvp(app, people):
    hub, _roles = people
    unverified = make_user(verified=False)
    event = make_event(hub)
    answer(client_for(app, unverified), event)
    assert status_of(unverified, event) is None
    past = make_event(hub, starts_at=utcnow() - timedelta(days=2))
    member = make_user()
    answer(client_for(app, member), past)
    assert status_of(member, past) is None


@pytest.mark.parametrize(("display", "expected", "absent"), [
    (CountDisplay.EXACT, "12 going", "Fewer than"),
    (CountDisplay.RANGE, "10 to 49 going", "12 going"),
    (CountDisplay.HIDDEN, None, "going"),
])
def test_attendance_is_a_count_or_range_never_names(app, display, expected, absent):
    hub = make_hub(attendee_count_display=display)
    event = make_event(hub)
    for n in range(12):
        make_rsvp(event, make_user(display_name=f"MARKER-NAME-{n}"))
    body = app.test_client().get(f"/events/{event.public_id}").get_data(as_text=True)
    assert "MARKER-NAME" not in body
    if expected:
        assert expected in body
    assert absent not in body.split('<section aria-labelledby="rsvp-heading"')[0].split(
        "<dl")[1]


def test_event_page_in_chinese_with_times_in_both_zones(app):
    from datetime import UTC, datetime

    hub = make_hub(timezone="Europe/London")
    event = make_event(hub, title_zh="電影夜", starts_at=datetime(2031, 7, 1, 18, tzinfo=UTC),
                       languages="yue en")
    viewer = make_user(timezone="Asia/Taipei", locale="zh_Hant_HK")
    body = login_as(app.test_client(), viewer).get(f"/events/{event.public_id}").get_data(
        as_text=True)
    assert "電影夜" in body
    assert "2031年7月1日" in body and "BST" in body
    assert "2031年7月2日" in body  # 02:00 the next day in Taipei
    assert "廣東話" in body


def test_calendar_file_carries_the_time_zone(app):
    hub = make_hub(timezone="America/Toronto")
    event = make_event(hub, title_en="Film night")
    ics = app.test_client().get(f"/events/{event.public_id}/calendar.ics")
    assert ics.headers["Content-Type"].startswith("text/calendar")
    text = ics.get_data(as_text=True)
    assert "DTSTART;TZID=America/Toronto:" in text
    assert "BEGIN:VTIMEZONE" in text and "SUMMARY:Film night" in text


def test_event_list_filters_by_chapter_language_mode_dates_and_title(client):
    from datetime import UTC, datetime

    from community.events.models import EventMode
    from community.factories import make_chapter

    uk, au = make_chapter("uk"), make_chapter("au")
    london, sydney = make_hub(uk, "london"), make_hub(au, "sydney")
    make_event(london, title_en="Film night", languages="yue en",
               starts_at=datetime(2031, 5, 1, 18, tzinfo=UTC))
    make_event(sydney, title_en="Online talk", languages="cmn", mode=EventMode.ONLINE,
               starts_at=datetime(2031, 6, 1, 18, tzinfo=UTC))
    make_event(sydney, title_en="MARKER-members", audience=Audience.MEMBERS)

    def titles(**query):
        body = client.get("/events", query_string=query).get_data(as_text=True)
        assert "MARKER-members" not in body
        return {t for t in ("Film night", "Online talk") if t in body}

    assert titles() == {"Film night", "Online talk"}
    assert titles(chapter="uk") == {"Film night"}
    assert titles(language="cmn") == {"Online talk"}
    assert titles(mode="online") == {"Online talk"}
    assert titles(q="film") == {"Film night"}
    assert titles(**{"from": "2031-05-15"}) == {"Online talk"}
    assert titles(to="2031-05-02") == {"Film night"}


@pytest.mark.parametrize("query", [
    {"from": "2031-13-45"}, {"to": "yesterday"}, {"page": "-1"}, {"language": "<script>"},
    {"mode": "teleport"}, {"chapter": "' OR 1=1"}, {"q": "%_" * 300}, {"hub": "\x00"},
])
def test_event_list_survives_bad_filters(client, query):
    make_event()
    assert client.get("/events", query_string=query).status_code == 200


def test_waitlisted_people_see_their_position(app, people):
    hub, roles = people
    event = make_event(hub, capacity=1)
    make_rsvp(event, roles["member"])
    for offset, name in enumerate(("attendee", "waitlisted", "pending"), start=1):
        with time_machine.travel(utcnow() + timedelta(seconds=offset), tick=False):
            answer(client_for(app, roles[name]), event)
        assert status_of(roles[name], event) is RsvpStatus.WAITLISTED
    third = client_for(app, roles["pending"]).get(f"/events/{event.public_id}")
    assert "You are number 3 on the waiting list." in third.get_data(as_text=True)
    first = client_for(app, roles["attendee"]).get(f"/events/{event.public_id}")
    assert "You are number 1 on the waiting list." in first.get_data(as_text=True)
    # Someone ahead leaving moves you up.
    withdraw(client_for(app, roles["waitlisted"]), event)
    third = client_for(app, roles["pending"]).get(f"/events/{event.public_id}")
    assert "You are number 2 on the waiting list." in third.get_data(as_text=True)
    going = client_for(app, roles["member"]).get(f"/events/{event.public_id}")
    assert "on the waiting list." not in going.get_data(as_text=True)


def test_a_double_submitted_rsvp_form_is_a_safe_no_op(app, people):
    hub, roles = people
    event = make_event(hub, capacity=5, max_guests=2)
    client = client_for(app, roles["member"])
    page = client.get(f"/events/{event.public_id}")
    data = {"csrf_token": csrf_token(page), "guests": 1}
    first = client.post(f"/events/{event.public_id}/rsvp", data=data)
    second = client.post(f"/events/{event.public_id}/rsvp", data={**data, "guests": 2})
    assert first.status_code == second.status_code == 302
    rows = db.session.scalars(select(Rsvp).where(Rsvp.event_id == event.id)).all()
    assert [(r.status, r.guests) for r in rows] == [(RsvpStatus.GOING, 1)]
    assert len(outbox(roles["member"].email)) == 1
    body = client.get(f"/events/{event.public_id}").get_data(as_text=True)
    assert "You have already answered, so nothing has changed." in body


def test_rsvp_to_a_cancelled_event_is_refused_with_a_message(app, people):
    hub, roles = people
    event = make_event(hub, status=EventStatus.CANCELLED)
    client = client_for(app, roles["member"])
    page = client.get(f"/events/{event.public_id}").get_data(as_text=True)
    assert "This event is cancelled, so it is not taking RSVPs." in page
    assert f'action="/events/{event.public_id}/rsvp"' not in page
    response = client.post(f"/events/{event.public_id}/rsvp",
                           data={"csrf_token": csrf_token(client.get("/")), "guests": 0},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "This event is cancelled, so it is not taking RSVPs." in response.get_data(
        as_text=True)
    assert status_of(roles["member"], event) is None


def test_going_sends_a_confirmation_with_title_time_and_link_only(app, people):
    hub, roles = people
    event = make_event(hub, title_en="MARKER-TITLE picnic", venue="MARKER-VENUE",
                       address=ADDRESS, online_url=LINK, location_visibility=Tier.ATTENDEES,
                       online_visibility=Tier.ATTENDEES)
    roles["member"].locale = "zh_Hant_HK"
    answer(client_for(app, roles["attendee"]), event)
    answer(client_for(app, roles["member"]), event)
    [english] = outbox(roles["attendee"].email)
    assert english.subject == "You are going: MARKER-TITLE picnic"
    everything = english.subject + english.body_text + english.body_html
    assert "MARKER-ADDRESS" not in everything and "MARKER-LINK" not in everything
    assert "MARKER-VENUE" not in everything
    assert f"https://harbour.test/events/{event.public_id}" in english.body_text
    assert re.findall(r"https?://[^\s<\"]+", english.body_text + english.body_html) and all(
        url.startswith("https://harbour.test/")
        for url in re.findall(r"https?://[^\s<\"]+", english.body_text + english.body_html))
    [chinese] = outbox(roles["member"].email)
    assert "活動" in chinese.subject and "MARKER" not in chinese.body_text.replace(
        "MARKER-TITLE", "")


def test_waitlisted_and_pending_answers_send_no_going_email(app, people):
    hub, roles = people
    full = make_event(hub, capacity=0)
    approval = make_event(hub, rsvp_approval=True)
    answer(client_for(app, roles["member"]), full)
    answer(client_for(app, roles["attendee"]), approval)
    assert outbox(roles["member"].email) == [] and outbox(roles["attendee"].email) == []


def test_calendar_sequence_grows_with_edits_and_carries_dtstamp(app):
    from icalendar import Calendar

    event = make_event(title_en="Film night")

    def vevent():
        body = app.test_client().get(f"/events/{event.public_id}/calendar.ics").get_data()
        [entry] = Calendar.from_ical(body).walk("VEVENT")
        return entry

    first = vevent()
    assert first.decoded("dtstamp").utcoffset().total_seconds() == 0
    assert str(first["uid"]).startswith(event.public_id)
    assert str(first["url"]) == f"https://harbour.test/events/{event.public_id}"
    with time_machine.travel(utcnow() + timedelta(minutes=5), tick=False):
        event.title_en = "Film night (new venue)"
        db.session.flush()
    second = vevent()
    assert int(second["sequence"]) > int(first["sequence"]) >= 0
    assert second.decoded("dtstamp") > first.decoded("dtstamp")
    assert str(second["uid"]) == str(first["uid"])
    with time_machine.travel(utcnow() + timedelta(minutes=10), tick=False):
        event.status = EventStatus.CANCELLED
        db.session.flush()
    third = vevent()
    assert str(third["status"]) == "CANCELLED"
    assert int(third["sequence"]) > int(second["sequence"])


def test_event_page_links_to_the_ics_file_and_a_webcal_address(app):
    event = make_event()
    body = app.test_client().get(f"/events/{event.public_id}").get_data(as_text=True)
    assert f'href="/events/{event.public_id}/calendar.ics"' in body
    assert f'href="webcal://harbour.test/events/{event.public_id}/calendar.ics"' in body


def test_event_list_shows_times_in_a_chosen_zone_without_javascript(client):
    from datetime import UTC, datetime

    from community.events.models import EventMode

    hub = make_hub(timezone="Europe/London")
    make_event(hub, title_en="Online panel", mode=EventMode.ONLINE,
               starts_at=datetime(2031, 1, 10, 12, tzinfo=UTC))
    plain = client.get("/events").get_data(as_text=True)
    assert "Your time:" not in plain
    chosen = client.get("/events", query_string={"tz": "Asia/Taipei"}).get_data(as_text=True)
    assert "Your time:" in chosen and "20:00 GMT+8" in chosen  # 20:00 in Taipei, zone named
    assert 'value="Asia/Taipei"' in chosen
    junk = client.get("/events", query_string={"tz": "Mars/Olympus"})
    assert junk.status_code == 200 and "Your time:" not in junk.get_data(as_text=True)
