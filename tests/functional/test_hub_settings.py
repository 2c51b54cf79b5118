"""Hub settings and the high-risk preset through the real forms (DESIGN §2 rules 1,
8, 10): what is stored, what is audited, what visitors, members and search
engines then see, and that garbage never changes anything or breaks a page."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from community.audit_models import AuditEntry
from community.events.models import Tier
from community.extensions import db
from community.factories import (
    make_chapter,
    make_coordinator,
    make_event,
    make_hub,
    make_membership,
    make_user,
)
from community.hubs.models import (
    CountDisplay,
    Hub,
    HubStatus,
    HubVisibility,
    JoinPolicy,
    MemberRole,
)
from community.hubs.settings import services as services
from tests.conftest import csrf_token, login_as

ROBOTS_META = '<meta name="robots" content="noindex, nofollow">'
CSRF_VALUE = re.compile(r'name="csrf_token"[^>]*? value="[^"]+"')
HUB_COLUMNS = [column.key for column in Hub.__table__.columns if column.key != "updated_at"]
DECLARED = {"name_en", "name_zh", "description_en", "description_zh", "city_en", "city_zh",
            "timezone", "visibility", "join_policy", "join_question", "rsvp_approval_default",
            "attendee_count_display", "keep_checkin_records", "noindex", "allow_comments",
            "show_authors", "vouches_required", "attendee_list_two_keys"}


@pytest.fixture
def hub():
    chapter = make_chapter("hs")
    return make_hub(chapter, "harbour-settings", name_en="Hongkongers in Leeds",
                    name_zh="列斯香港人", city_en="Leeds", timezone="Europe/London",
                    join_policy=JoinPolicy.OPEN, attendee_count_display=CountDisplay.EXACT)


@pytest.fixture
def lead(hub):
    user = make_user("lead@settings.example", totp_secret=pyotp.random_base32())
    make_membership(user, hub, MemberRole.LEAD)
    return user


@pytest.fixture
def member(hub):
    user = make_user("member@settings.example")
    make_membership(user, hub)
    return user


def client_for(app, user=None):
    client = app.test_client()
    if user is not None:
        login_as(client, user)
    return client


def url(hub, tail: str = "") -> str:
    return f"/hubs/{hub.slug}/settings{tail}"


def form_data(hub: Hub, **changes) -> dict:
    """The settings form as a browser submits it: unticked boxes are absent."""
    data = {key: value for key, value in services.settings_of(hub).items()}
    data.update(changes)
    return {key: ("y" if value is True else value) for key, value in data.items()
            if value is not False and value is not None}


def post_settings(client, hub, **changes):
    page = client.get(url(hub))
    return client.post(url(hub), data={"csrf_token": csrf_token(page),
                                       **form_data(hub, **changes)})


def reload(hub: Hub) -> Hub:
    db.session.expire_all()
    return db.session.scalar(select(Hub).where(Hub.id == hub.id))


def snapshot(hub: Hub) -> dict:
    hub = reload(hub)
    return {key: getattr(hub, key) for key in HUB_COLUMNS}


def audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def masked(response, slug: str) -> str:
    """The body with the CSRF token and the requested slug (in the language
    switch's return path) masked, for byte-for-byte comparison (R8)."""
    body = CSRF_VALUE.sub('name="csrf_token" value="…"', response.get_data(as_text=True))
    return body.replace(slug, "…")


# --- editing ---------------------------------------------------------------------

def test_lead_edits_every_setting_and_the_change_is_audited(app, hub, lead):
    client = client_for(app, lead)
    page = client.get(url(hub))
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'value="Hongkongers in Leeds"' in body and 'list="timezone-options"' in body
    assert '<option value="Asia/Hong_Kong">' in body
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow"

    response = post_settings(
        client, hub, name_en="Hongkongers in West Yorkshire", name_zh="西約克郡香港人",
        description_en="We meet **monthly**.", description_zh="每月聚會。",
        city_en="Leeds and Bradford", city_zh="列斯及布拉德福", timezone="asia/hong kong",
        visibility="unlisted", join_policy="approval", join_question="Who told you about us?",
        rsvp_approval_default=True, attendee_count_display="range",
        keep_checkin_records=False, noindex=True, allow_comments=False)
    assert response.status_code == 302
    assert response.headers["Location"] == url(hub)

    stored = reload(hub)
    assert stored.name_en == "Hongkongers in West Yorkshire"
    assert stored.name_zh == "西約克郡香港人"
    assert stored.description_en == "We meet **monthly**."
    assert stored.description_zh == "每月聚會。"
    assert (stored.city_en, stored.city_zh) == ("Leeds and Bradford", "列斯及布拉德福")
    assert stored.timezone == "Asia/Hong_Kong"  # typed loosely, stored as the IANA name
    assert stored.visibility is HubVisibility.UNLISTED
    assert stored.join_policy is JoinPolicy.APPROVAL
    assert stored.join_question == "Who told you about us?"
    assert stored.rsvp_approval_default is True
    assert stored.attendee_count_display is CountDisplay.RANGE
    assert stored.keep_checkin_records is False
    assert stored.noindex is True
    assert stored.allow_comments is False
    assert stored.high_risk is False  # only the preset's own switch sets it

    [entry] = audit("hub.settings")
    assert (entry.actor_id, entry.hub_id, entry.chapter_id) == (lead.id, hub.id, hub.chapter_id)
    assert (entry.target_type, entry.target_id) == ("hub", hub.slug)
    assert "visibility: listed -> unlisted" in entry.detail
    assert "timezone: Europe/London -> Asia/Hong_Kong" in entry.detail
    assert "name_en" in entry.detail
    # Content is named, never copied into the log.
    assert "Yorkshire" not in entry.detail

    again = client.get(url(hub))
    assert "The hub&#39;s settings are saved." in again.get_data(as_text=True)


def test_saving_without_a_change_writes_no_audit_entry(app, hub, lead):
    response = post_settings(client_for(app, lead), hub)
    assert response.status_code == 302
    assert audit("hub.settings") == []


@pytest.mark.parametrize("overseer", ["coordinator", "admin"])
def test_coordinators_and_admins_edit_settings_too(app, hub, overseer):
    user = make_user(f"{overseer}@settings.example", totp_secret=pyotp.random_base32(),
                     is_site_admin=overseer == "admin")
    if overseer == "coordinator":
        make_coordinator(user, hub.chapter)
    response = post_settings(client_for(app, user), hub, city_en="York")
    assert response.status_code == 302
    assert reload(hub).city_en == "York"


def test_r20_a_lead_without_two_factor_is_sent_to_set_it_up(app, hub):
    user = make_user("no2fa@settings.example")
    make_membership(user, hub, MemberRole.LEAD)
    response = client_for(app, user).get(url(hub))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/two-factor")


def test_r9_a_lead_of_one_hub_cannot_touch_another(app, hub, lead):
    other = make_hub(make_chapter("ot"), "other-settings", city_en="Sheffield")
    client = client_for(app, lead)
    assert client.get(url(other)).status_code == 404
    page = client.get(url(hub))
    response = client.post(url(other), data={"csrf_token": csrf_token(page),
                                             **form_data(other, city_en="Hijacked")})
    assert response.status_code == 404
    response = client.post(url(other, "/high-risk"),
                           data={"csrf_token": csrf_token(page), "state": "on"})
    assert response.status_code == 404
    assert reload(other).city_en == "Sheffield" and reload(other).high_risk is False


def test_r8_settings_of_a_hidden_hub_look_like_a_missing_one(app, hub, member):
    hub.visibility = HubVisibility.UNLISTED
    db.session.flush()
    client = client_for(app, member)
    hidden = client.get(url(hub))
    missing = client.get("/hubs/no-such-hub/settings")
    assert hidden.status_code == missing.status_code == 404
    assert masked(hidden, hub.slug) == masked(missing, "no-such-hub")
    assert "X-Robots-Tag" not in hidden.headers


def test_r10_extra_fields_change_nothing(app, hub, lead):
    other_chapter = make_chapter("xx")
    before = snapshot(hub)
    response = post_settings(
        client_for(app, lead), hub, status="archived", chapter_id=str(other_chapter.id),
        slug="stolen-slug", proposed_by_id=str(lead.id), high_risk="y", id="999",
        decline_reason="forged", created_at="2000-01-01T00:00:00", hub_id="1",
        role="lead", is_admin="y", user_id=str(lead.id))
    assert response.status_code == 302
    assert snapshot(hub) == before
    assert reload(hub).status is HubStatus.ACTIVE


@pytest.mark.parametrize(("field", "value", "message"), [
    ("timezone", "Mars/Olympus_Mons", "We do not know that time zone"),
    ("timezone", "", "Enter a time zone"),
    ("timezone", "x" * 500, "Use at most 64 characters."),
    ("name_en", "x" * 101, "Use at most 100 characters."),
    # Translated messages are trusted markup (R35), so the apostrophe is not escaped.
    ("name_en", "   ", "Enter the hub's name in English."),
    ("name_zh", "名" * 101, "Use at most 100 characters."),
    ("name_en", "Two\nlines", "Use one line of text"),
    ("name_en", "Evil\u202eeman", "Use one line of text"),
    ("city_en", "y" * 101, "Use at most 100 characters."),
    ("description_en", "z" * 10_001, "Use at most 10000 characters."),
    ("description_en", "bell\x07", "Remove the invisible control characters"),
    ("join_question", "q" * 301, "Use at most 300 characters."),
    ("visibility", "secret", "Choose one of the options in the list."),
    ("join_policy", "everyone", "Choose one of the options in the list."),
    ("attendee_count_display", "-1", "Choose one of the options in the list."),
    ("attendee_count_display", "", "Choose one of the options in the list."),
])
def test_garbage_is_refused_beside_the_field_with_the_input_kept(app, hub, lead, field, value,
                                                                 message):
    before = snapshot(hub)
    response = post_settings(client_for(app, lead), hub, **{field: value})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in body
    assert f'id="{field}-error"' in body and 'aria-invalid="true"' in body
    assert snapshot(hub) == before
    assert audit("hub.settings") == []
    if field == "timezone" and value:
        assert 'value="Mars/Olympus_Mons"' in body or 'value="xxxx' in body
    # The other fields keep what was typed, not what is stored.
    assert 'value="Hongkongers in Leeds"' in body or field == "name_en"


def test_a_missing_field_is_an_error_not_a_crash(app, hub, lead):
    client = client_for(app, lead)
    page = client.get(url(hub))
    response = client.post(url(hub), data={"csrf_token": csrf_token(page)})
    assert response.status_code == 200
    assert "Enter the hub's name in English." in response.get_data(as_text=True)


def test_error_messages_are_translated(app, hub, lead):
    """Form errors come from our catalogue: with Chinese chosen, the page is Chinese."""
    lead.locale = "zh_Hant_HK"
    db.session.flush()
    response = post_settings(client_for(app, lead), hub, name_en="x" * 101)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="zh-Hant-HK">' in body
    assert "最多只可以用 100 個字元。" in body


@pytest.mark.parametrize("tail", ["", "/high-risk", "/invites"])
def test_r26_posts_without_csrf_are_refused(app, hub, lead, tail):
    before = snapshot(hub)
    response = client_for(app, lead).post(url(hub, tail), data={
        **form_data(hub, city_en="No token"), "state": "on", "expires_in_days": "7"})
    assert response.status_code == 400
    assert snapshot(hub) == before


@pytest.fixture
def in_request(app):
    """Services translate their messages, so they run inside a request."""
    with app.test_request_context():
        yield


def test_service_refuses_people_who_may_not_edit(in_request, hub, member):
    with pytest.raises(services.NotAllowed):
        services.update_settings(hub, member, **{
            **{key: value for key, value in services.settings_of(hub).items()},
            "city_en": "Nope"})
    with pytest.raises(services.NotAllowed):
        services.set_high_risk(hub, member, True)
    assert reload(hub).city_en == "Leeds" and reload(hub).high_risk is False


def test_service_refuses_an_unknown_time_zone_and_choice(in_request, hub, lead):
    values = services.settings_of(hub)
    with pytest.raises(services.SettingsError) as error:
        services.update_settings(hub, lead, **{**values, "timezone": "Europe/Atlantis"})
    assert error.value.field == "timezone"
    with pytest.raises(services.SettingsError) as error:
        services.update_settings(hub, lead, **{**values, "visibility": "public"})
    assert error.value.field == "visibility"


# --- the high-risk preset -----------------------------------------------------------

def toggle(client, hub, state: str):
    page = client.get(url(hub))
    return client.post(url(hub, "/high-risk"),
                       data={"csrf_token": csrf_token(page), "state": state})


PRESET = {
    "visibility": HubVisibility.UNLISTED,
    "join_policy": JoinPolicy.APPROVAL,
    "rsvp_approval_default": True,
    "attendee_count_display": CountDisplay.HIDDEN,
    "keep_checkin_records": False,
    "noindex": True,
    "show_authors": False,
    "vouches_required": 1,
    "attendee_list_two_keys": True,
    "high_risk": True,
}


def test_high_risk_preset_on_and_off(app, hub, lead, member):
    client = client_for(app, lead)
    assert client.get(f"/hubs/{hub.slug}").headers.get("X-Robots-Tag") is None

    response = toggle(client, hub, "on")
    assert response.status_code == 302 and response.headers["Location"] == url(hub)
    stored = reload(hub)
    assert {key: getattr(stored, key) for key in PRESET} == PRESET
    assert stored.allow_comments is True  # not part of the preset
    [entry] = audit("hub.high_risk_on")
    assert (entry.actor_id, entry.hub_id, entry.chapter_id) == (lead.id, hub.id, hub.chapter_id)
    assert (entry.target_type, entry.target_id) == ("hub", hub.slug)
    assert "visibility: listed -> unlisted" in entry.detail

    # The settings page shows plainly that every protection is on.
    page = client.get(url(hub)).get_data(as_text=True)
    assert "The high-risk preset is on." in page
    assert page.count("<strong>On</strong>") == 10 and ">Off<" not in page

    # A visitor (and so a search engine) finds nothing: the hub is unlisted now,
    # and its 404 is the same as a hub that never existed (R8).
    visitor = app.test_client()
    hidden, missing = visitor.get(f"/hubs/{hub.slug}"), visitor.get("/hubs/never-was")
    assert hidden.status_code == missing.status_code == 404
    assert masked(hidden, hub.slug) == masked(missing, "never-was")
    assert hub.slug not in visitor.get("/hubs").get_data(as_text=True)

    # A member still sees the hub, marked for robots in the page and the header.
    seen = client_for(app, member).get(f"/hubs/{hub.slug}")
    assert seen.status_code == 200
    assert ROBOTS_META in seen.get_data(as_text=True)
    assert seen.headers["X-Robots-Tag"] == "noindex, nofollow"
    members_area = client_for(app, member).get(f"/hubs/{hub.slug}/members")
    assert members_area.headers["X-Robots-Tag"] == "noindex, nofollow"

    # Off clears only the flag: every protection stays as it was.
    response = toggle(client, hub, "off")
    assert response.status_code == 302
    stored = reload(hub)
    assert {key: getattr(stored, key) for key in PRESET} == {**PRESET, "high_risk": False}
    assert len(audit("hub.high_risk_off")) == 1

    # The organisers list the hub again but keep noindex: a search engine now
    # sees the page and is told, twice, not to index it.
    assert post_settings(client, hub, visibility="listed").status_code == 302
    crawler = app.test_client().get(f"/hubs/{hub.slug}",
                                    headers={"User-Agent": "Googlebot/2.1"})
    assert crawler.status_code == 200
    assert ROBOTS_META in crawler.get_data(as_text=True)
    assert crawler.headers["X-Robots-Tag"] == "noindex, nofollow"


def test_while_high_risk_no_protection_can_be_loosened(app, hub, lead):
    client = client_for(app, lead)
    toggle(client, hub, "on")
    before = snapshot(hub)
    for field, value in [("visibility", "listed"), ("join_policy", "open"),
                         ("rsvp_approval_default", False), ("attendee_count_display", "range"),
                         ("keep_checkin_records", True), ("noindex", False)]:
        response = post_settings(client, hub, **{field: value})
        body = response.get_data(as_text=True)
        assert response.status_code == 200, field
        assert "This protection is part of the high-risk preset." in body
        assert f'id="{field}-error"' in body
        assert snapshot(hub) == before
    # Stricter is fine: invitation only, and the rest of the form.
    assert post_settings(client, hub, join_policy="invite", city_en="Wakefield").status_code \
        == 302
    stored = reload(hub)
    assert stored.join_policy is JoinPolicy.INVITE and stored.city_en == "Wakefield"
    # Turning the preset on again keeps invitation only, which is stricter than approval.
    services.set_high_risk(stored, lead, True)
    assert reload(hub).join_policy is JoinPolicy.INVITE


def test_turning_the_preset_on_twice_is_audited_once(app, hub, lead):
    client = client_for(app, lead)
    toggle(client, hub, "on")
    toggle(client, hub, "on")
    assert len(audit("hub.high_risk_on")) == 1
    response = toggle(client, hub, "off")
    toggle(client, hub, "off")
    assert response.status_code == 302
    assert len(audit("hub.high_risk_off")) == 1


@pytest.mark.parametrize("state", ["", "maybe", "ON", "1", "x" * 1000])
def test_high_risk_garbage_changes_nothing(app, hub, lead, state):
    before = snapshot(hub)
    client = client_for(app, lead)
    response = toggle(client, hub, state)
    assert response.status_code == 302
    assert snapshot(hub) == before
    assert "Choose to turn the preset on or off." in client.get(url(hub)).get_data(
        as_text=True)


def test_a_plain_listed_hub_is_left_to_search_engines(app, hub):
    response = app.test_client().get(f"/hubs/{hub.slug}")
    assert response.status_code == 200
    assert "X-Robots-Tag" not in response.headers
    assert ROBOTS_META not in response.get_data(as_text=True)


# --- what new events inherit ---------------------------------------------------------

def test_event_defaults_follow_the_hub(hub, lead):
    assert services.event_defaults_for(hub) == {
        "rsvp_approval": False, "location_visibility": Tier.PUBLIC,
        "online_visibility": Tier.ATTENDEES, "hide_attendee_count": False}

    services.set_high_risk(hub, lead, True)
    defaults = services.event_defaults_for(hub)
    assert defaults == {
        "rsvp_approval": True, "location_visibility": Tier.ATTENDEES,
        "online_visibility": Tier.ATTENDEES, "hide_attendee_count": True}
    event = make_event(hub, **defaults)
    db.session.expire_all()
    assert (event.rsvp_approval, event.location_visibility, event.hide_attendee_count) == (
        True, Tier.ATTENDEES, True)

    # Off leaves the hub's own switches, so approval and hidden counts carry on.
    services.set_high_risk(hub, lead, False)
    assert services.event_defaults_for(hub) == {
        "rsvp_approval": True, "location_visibility": Tier.PUBLIC,
        "online_visibility": Tier.ATTENDEES, "hide_attendee_count": True}


def test_protections_shown_match_the_hub(hub, lead):
    # New hubs post as the hub (issue 16); every other protection starts off.
    shown = services.protections(hub)
    assert shown.pop("posts_as_hub") is True
    assert not any(shown.values())
    services.set_high_risk(hub, lead, True)
    assert all(services.protections(hub).values())
