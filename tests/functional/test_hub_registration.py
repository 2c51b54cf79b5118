"""Registering a hub: a verified member proposes it, a chapter coordinator (or a
site admin) approves or declines it, the proposer is told by email."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import func, select

from community.audit_models import AuditEntry
from community.extensions import db
from community.factories import (
    make_chapter,
    make_coordinator,
    make_hub,
    make_membership,
    make_user,
)
from community.hubs.models import (
    Hub,
    HubStatus,
    HubVisibility,
    JoinPolicy,
    MemberRole,
    Membership,
    MembershipStatus,
)
from community.hubs.registration import services as registration_services
from community.hubs.registration.services import (
    RegistrationError,
    approve_registration,
    decline_registration,
    is_valid_slug,
    register_hub,
    suggest_slug,
)
from tests.conftest import csrf_token, login_as, outbox

PROPOSAL = {
    "chapter": "uk",
    "name_en": "Hongkongers in Leeds",
    "name_zh": "列斯香港人",
    "city_en": "Leeds",
    "city_zh": "列斯",
    "description_en": "We meet **monthly**.",
    "description_zh": "每月聚會。",
    "timezone": "",
    "slug": "",
    "join_policy": "approval",
    "join_question": "How did you hear about us?",
    "visibility": "listed",
}


@pytest.fixture
def uk():
    return make_chapter("uk", name_en="United Kingdom", name_zh="英國",
                        default_timezone="Europe/London")


@pytest.fixture
def proposer():
    return make_user("proposer@example.org", display_name="Proposer Pat")


@pytest.fixture
def coordinator(uk):
    user = make_user("coordinator@example.org", totp_secret=pyotp.random_base32())
    make_coordinator(user, uk)
    return user


def client_for(app, user=None):
    client = app.test_client()
    if user is not None:
        login_as(client, user)
    return client


def propose(client, **changes):
    page = client.get("/hubs/register")
    return client.post("/hubs/register",
                       data={"csrf_token": csrf_token(page), **PROPOSAL, **changes})


def pending_hub(chapter, proposer, slug="pending-hub", **kw):
    return make_hub(chapter, slug, status=HubStatus.PENDING, proposed_by_id=proposer.id, **kw)


def decide(client, hub, action, **data):
    page = client.get(f"/chapters/{hub.chapter.code}/registrations")
    token = csrf_token(page) if page.status_code == 200 else csrf_token(client.get("/"))
    return client.post(f"/hubs/{hub.slug}/registration/{action}",
                       data={"csrf_token": token, **data})


def hub_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Hub))


def membership_of(user, hub):
    return db.session.scalar(select(Membership).where(
        Membership.user_id == user.id, Membership.hub_id == hub.id))


def audit_entries(action):
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# --- proposing ------------------------------------------------------------------------


def test_verified_member_proposes_a_pending_hub_only_they_and_staff_can_see(
        app, uk, proposer, coordinator):
    client = client_for(app, proposer)
    page = client.get("/hubs/register")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<datalist id="timezone-options">' in body
    assert '<option value="Europe/London">' in body and 'list="timezone-options"' in body

    response = propose(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/hubs/hongkongers-in-leeds"
    hub = db.session.scalar(select(Hub).where(Hub.slug == "hongkongers-in-leeds"))
    assert hub.status is HubStatus.PENDING
    assert hub.proposed_by_id == proposer.id
    assert hub.chapter_id == uk.id
    assert hub.timezone == "Europe/London"  # the chapter's, as the field was left empty
    assert (hub.name_zh, hub.city_en, hub.city_zh) == ("列斯香港人", "Leeds", "列斯")
    assert hub.description_en == "We meet **monthly**."
    assert hub.join_policy is JoinPolicy.APPROVAL
    assert hub.visibility is HubVisibility.LISTED
    assert hub.join_question == "How did you hear about us?"
    assert membership_of(proposer, hub) is None

    assert client.get("/hubs/hongkongers-in-leeds").status_code == 200
    assert client_for(app, coordinator).get("/hubs/hongkongers-in-leeds").status_code == 200
    assert client_for(app, make_user()).get("/hubs/hongkongers-in-leeds").status_code == 404
    assert app.test_client().get("/hubs/hongkongers-in-leeds").status_code == 404
    assert "Hongkongers in Leeds" not in app.test_client().get("/hubs").get_data(as_text=True)


def test_chosen_slug_time_zone_and_choices_are_kept(app, uk, proposer):
    client = client_for(app, proposer)
    response = propose(client, slug="Leeds-HK", timezone="Asia/Hong_Kong",
                       join_policy="invite", visibility="unlisted")
    assert response.status_code == 302
    hub = db.session.scalar(select(Hub).where(Hub.slug == "leeds-hk"))
    assert hub.timezone == "Asia/Hong_Kong"
    assert hub.join_policy is JoinPolicy.INVITE
    assert hub.visibility is HubVisibility.UNLISTED


def test_chapter_in_the_address_is_chosen_with_its_time_zone(app, uk, proposer):
    make_chapter("au", name_en="Australia", default_timezone="Australia/Sydney")
    body = client_for(app, proposer).get("/hubs/register?chapter=au").get_data(as_text=True)
    assert re.search(r'<option [^>]*selected[^>]* value="au">', body)
    assert 'value="Australia/Sydney"' in body


def test_suggested_slug_is_made_unique(app, uk, proposer):
    make_hub(uk, "hongkongers-in-leeds")
    response = propose(client_for(app, proposer))
    assert response.headers["Location"] == "/hubs/hongkongers-in-leeds-2"


def test_duplicate_slug_is_a_clear_error_on_the_field_and_input_is_kept(app, uk, proposer):
    make_hub(uk, "taken-slug", status=HubStatus.DECLINED)
    before = hub_count()
    response = propose(client_for(app, proposer), slug="taken-slug",
                       name_en="Keep <this> name")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'id="slug-error">Another hub already uses this web address', body)
    assert 'value="taken-slug"' in body
    assert 'value="Keep &lt;this&gt; name"' in body
    assert "We meet **monthly**." in body
    assert hub_count() == before


def test_validation_messages_are_translated(app, uk, proposer):
    proposer.locale = "zh_Hant_HK"
    body = propose(client_for(app, proposer), name_en="x" * 101).get_data(as_text=True)
    assert '<html lang="zh-Hant-HK">' in body
    assert 'id="name_en-error">最多只可以用 100 個字元。' in body


def test_only_the_required_fields_are_needed(app, uk, proposer):
    client = client_for(app, proposer)
    response = client.post("/hubs/register", data={
        "csrf_token": csrf_token(client.get("/hubs/register")), "chapter": "uk",
        "name_en": "Bare Hub"})
    assert response.status_code == 302
    hub = db.session.scalar(select(Hub).where(Hub.slug == "bare-hub"))
    assert hub.timezone == "Europe/London"
    assert hub.join_policy is JoinPolicy.APPROVAL and hub.visibility is HubVisibility.LISTED
    assert (hub.name_zh, hub.description_en, hub.join_question) == ("", "", "")


def test_reserved_slug_is_refused(app, uk, proposer):
    body = propose(client_for(app, proposer), slug="register").get_data(as_text=True)
    assert 'id="slug-error"' in body


def test_name_without_latin_letters_asks_for_a_slug(app, uk, proposer):
    response = propose(client_for(app, proposer), name_en="倫敦")
    assert response.status_code == 200
    assert re.search(r'id="slug-error">We could not make a web address', response.get_data(
        as_text=True))


def test_invalid_time_zone_is_a_field_error(app, uk, proposer):
    before = hub_count()
    response = propose(client_for(app, proposer), timezone="Mars/Olympus_Mons")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="timezone-error">We do not know that time zone.' in body
    assert 'value="Mars/Olympus_Mons"' in body
    assert hub_count() == before


def test_unknown_chapter_is_a_field_error(app, uk, proposer):
    before = hub_count()
    response = propose(client_for(app, proposer), chapter="zz")
    assert response.status_code == 200
    assert 'id="chapter-error">Choose the chapter your hub belongs to.' in response.get_data(
        as_text=True)
    assert hub_count() == before


@pytest.mark.parametrize("changes", [
    {"name_en": ""},
    {"name_en": "x" * 101},
    {"name_zh": "字" * 101},
    {"city_en": "x" * 101},
    {"description_en": "x" * 10_001},
    {"join_question": "x" * 301},
    {"name_en": "Line\nbreak"},
    {"city_zh": "\u202eevil"},
    {"description_en": "bell\x07"},
    {"slug": "ab"},
    {"slug": "x" * 65},
    {"slug": "-leading"},
    {"slug": "under_score"},
    {"slug": "spa ce"},
    {"slug": "nul\x00slug\x00" * 500},
    {"slug": "ünïcode"},
    {"timezone": "Europe/London\x00x" * 1000},
    {"timezone": "../../etc/passwd"},
    {"chapter": ""},
    {"chapter": "x" * 5000},
    {"chapter": "' OR 1=1 --"},
    {"join_policy": "everyone"},
    {"join_policy": ""},
    {"visibility": "secret"},
    {"visibility": "\x00"},
])
def test_bad_input_is_refused_on_the_form_never_a_500(app, uk, proposer, changes):
    before = hub_count()
    response = propose(client_for(app, proposer), **changes)
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    assert hub_count() == before


def test_nul_characters_are_dropped_from_text(app, uk, proposer):
    response = propose(client_for(app, proposer), name_en="Nul\x00 hub", city_zh="列\x00斯",
                       slug="nul-\x00hub", chapter="uk\x00", timezone="\x00")
    assert response.status_code == 302
    hub = db.session.scalar(select(Hub).where(Hub.slug == "nul-hub"))
    assert (hub.name_en, hub.city_zh, hub.timezone) == ("Nul hub", "列斯", "Europe/London")
    assert hub.chapter_id == uk.id


def test_r10_extra_fields_on_the_registration_form_have_no_effect(app, uk, proposer):
    other = make_user()
    response = propose(client_for(app, proposer), status="active", proposed_by_id=other.id,
                       chapter_id=make_chapter("ca").id, high_risk="y", role="lead",
                       is_admin="y", user_id=other.id)
    assert response.status_code == 302
    hub = db.session.scalar(select(Hub).where(Hub.slug == "hongkongers-in-leeds"))
    assert hub.status is HubStatus.PENDING
    assert hub.proposed_by_id == proposer.id
    assert hub.chapter_id == uk.id
    assert hub.high_risk is False
    assert membership_of(proposer, hub) is None


def test_member_without_verification_cannot_register(app, uk):
    unverified = make_user("unverified@example.org", verified=False)
    client = client_for(app, unverified)
    assert client.get("/hubs/register").headers["Location"] == "/dashboard"
    response = client.post("/hubs/register",
                           data={"csrf_token": csrf_token(client.get("/")), **PROPOSAL})
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert hub_count() == 0


def test_visitor_is_sent_to_sign_in(client, uk):
    response = client.get("/hubs/register")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_proposals_waiting_are_capped(app, uk, proposer):
    for n in range(registration_services.MAX_PENDING_PER_PROPOSER):
        pending_hub(uk, proposer, f"waiting-{n}")
    before = hub_count()
    response = propose(client_for(app, proposer))
    assert response.status_code == 200
    assert "You already have 3 hubs waiting for a decision." in response.get_data(as_text=True)
    assert hub_count() == before


def test_a_lost_race_for_the_slug_is_a_field_error_and_the_session_survives(
        app, uk, proposer, monkeypatch):
    make_hub(uk, "raced")
    monkeypatch.setattr(registration_services, "slug_taken", lambda slug: False)
    with app.test_request_context():
        with pytest.raises(RegistrationError) as caught:
            register_hub(proposer, "uk", name_en="Raced", slug="raced")
        assert caught.value.field == "slug"
        # The savepoint rolled back the insert only; the transaction goes on.
        assert db.session.scalar(select(func.count()).select_from(Hub)) == 1


@pytest.mark.parametrize(("name", "slug"), [
    ("Hongkongers in Leeds", "hongkongers-in-leeds"),
    ("  Café Zürich!! ", "cafe-zurich"),
    ("HK -- Glasgow & Edinburgh", "hk-glasgow-edinburgh"),
    ("倫敦", ""),
    ("x" * 80, "x" * 64),
    ("a" * 63 + " b", "a" * 63),
])
def test_suggest_slug(name, slug):
    assert suggest_slug(name) == slug


@pytest.mark.parametrize(("slug", "valid"), [
    ("abc", True), ("a-b-c", True), ("hub-2", True), ("x" * 64, True),
    ("ab", False), ("x" * 65, False), ("-ab", False), ("ab-", False), ("Abc", False),
    ("a_b", False), ("a b", False), ("", False),
])
def test_slug_shape(slug, valid):
    assert is_valid_slug(slug) is valid


# --- the queue and the decision ---------------------------------------------------------


def test_coordinator_approves_and_the_proposer_becomes_lead_and_is_emailed(
        app, uk, proposer, coordinator):
    hub = pending_hub(uk, proposer, "leeds", name_en="Leeds Hub", name_zh="列斯小組")
    client = client_for(app, coordinator)
    queue = client.get("/chapters/uk/registrations")
    body = queue.get_data(as_text=True)
    assert queue.status_code == 200
    assert "Leeds Hub" in body and "Proposer Pat" in body
    assert "proposer@example.org" not in body  # R2: display names only

    response = decide(client, hub, "approve")
    assert response.status_code == 302
    assert response.headers["Location"] == "/chapters/uk/registrations"
    db.session.refresh(hub)
    assert hub.status is HubStatus.ACTIVE
    membership = membership_of(proposer, hub)
    assert membership.role is MemberRole.LEAD
    assert membership.status is MembershipStatus.ACTIVE

    [email] = outbox("proposer@example.org")
    assert email.subject == "Your hub Leeds Hub is approved"
    assert "https://harbour.test/hubs/leeds" in email.body_text
    assert 'href="https://harbour.test/hubs/leeds"' in email.body_html
    assert "two-factor" in email.body_text  # the new lead has not turned it on yet

    [entry] = audit_entries("hub.approve")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (coordinator.id, "hub", "leeds")
    assert (entry.hub_id, entry.chapter_id, entry.subject_user_id) == (hub.id, uk.id, proposer.id)
    assert "No hubs are waiting for a decision." in client.get(
        "/chapters/uk/registrations").get_data(as_text=True)


def test_approval_email_is_in_the_proposers_language(app, uk, proposer, coordinator):
    proposer.locale = "zh_Hant_HK"
    proposer.totp_secret = pyotp.random_base32()
    hub = pending_hub(uk, proposer, "leeds", name_en="Leeds Hub", name_zh="列斯小組")
    decide(client_for(app, coordinator), hub, "approve")
    [email] = outbox("proposer@example.org")
    assert "列斯小組" in email.subject
    assert "Proposer Pat 你好：" in email.body_text
    assert '<html lang="zh-Hant-HK">' in email.body_html
    assert "two-factor" not in email.body_text


def test_approval_upgrades_an_existing_membership(app, uk, proposer, coordinator):
    hub = pending_hub(uk, proposer)
    make_membership(proposer, hub, status=MembershipStatus.PENDING)
    decide(client_for(app, coordinator), hub, "approve")
    membership = membership_of(proposer, hub)
    assert (membership.role, membership.status) == (MemberRole.LEAD, MembershipStatus.ACTIVE)
    assert db.session.scalar(select(func.count()).select_from(Membership).where(
        Membership.hub_id == hub.id)) == 1


def test_coordinator_declines_with_a_reason_that_is_stored_and_emailed(
        app, uk, proposer, coordinator):
    hub = pending_hub(uk, proposer, "leeds", name_en="Leeds Hub")
    client = client_for(app, coordinator)
    response = decide(client, hub, "decline",
                      **{"decline-leeds-reason": "  Leeds already has a hub <b>here</b>.  "})
    assert response.status_code == 302
    db.session.refresh(hub)
    assert hub.status is HubStatus.DECLINED
    assert hub.decline_reason == "Leeds already has a hub <b>here</b>."
    assert membership_of(proposer, hub) is None

    [email] = outbox("proposer@example.org")
    assert email.subject == "Your hub Leeds Hub was not approved"
    assert "Leeds already has a hub <b>here</b>." in email.body_text
    assert "Leeds already has a hub &lt;b&gt;here&lt;/b&gt;." in email.body_html
    assert "https://harbour.test/hubs/register" in email.body_text

    [entry] = audit_entries("hub.decline")
    assert entry.detail == "Leeds already has a hub <b>here</b>."
    assert (entry.actor_id, entry.target_id, entry.hub_id) == (coordinator.id, "leeds", hub.id)
    # The proposer cannot see a declined hub, and nobody can decide on it again.
    assert client_for(app, proposer).get("/hubs/leeds").status_code == 404
    assert decide(client, hub, "approve").status_code == 404


@pytest.mark.parametrize("reason", ["", "   ", "\x00", "x" * 501])
def test_decline_needs_a_reason_of_at_most_500_characters(app, uk, proposer, coordinator,
                                                          reason):
    hub = pending_hub(uk, proposer, "leeds")
    response = decide(client_for(app, coordinator), hub, "decline",
                      **{"decline-leeds-reason": reason})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="decline-leeds-reason-error"' in body
    if reason.strip("\x00 "):
        assert reason in body  # the coordinator's text is kept
    db.session.refresh(hub)
    assert hub.status is HubStatus.PENDING
    assert outbox() == [] and audit_entries("hub.decline") == []


def test_site_admin_decides_in_any_chapter(app, uk, proposer):
    admin = make_user(is_site_admin=True, totp_secret=pyotp.random_base32())
    hub = pending_hub(uk, proposer)
    client = client_for(app, admin)
    assert client.get("/chapters/uk/registrations").status_code == 200
    assert decide(client, hub, "approve").status_code == 302
    db.session.refresh(hub)
    assert hub.status is HubStatus.ACTIVE


def test_coordinator_of_another_chapter_gets_404(app, uk, proposer):
    elsewhere = make_user(totp_secret=pyotp.random_base32())
    make_coordinator(elsewhere, make_chapter("ca"))
    hub = pending_hub(uk, proposer, "leeds")
    client = client_for(app, elsewhere)
    assert client.get("/chapters/uk/registrations").status_code == 404
    assert client.get("/chapters/ca/registrations").status_code == 200
    assert decide(client, hub, "approve").status_code == 404
    assert decide(client, hub, "decline", **{"decline-leeds-reason": "No."}).status_code == 404
    db.session.refresh(hub)
    assert hub.status is HubStatus.PENDING


def test_r8_refusal_looks_like_a_missing_hub(app, uk, proposer):
    hub = pending_hub(uk, proposer, "leeds")
    client = client_for(app, make_user())
    refused = decide(client, hub, "approve")
    # Same length as "leeds", as the page echoes its path in the language switch.
    missing = client.post("/hubs/leedz/registration/approve",
                          data={"csrf_token": csrf_token(client.get("/"))})
    assert refused.status_code == missing.status_code == 404
    def masked(response):
        return re.sub(r'name="csrf_token"[^>]*? value="[^"]+"', "TOKEN",
                      response.get_data(as_text=True))

    assert masked(refused).replace("leeds", "leedz") == masked(missing)


def test_staff_without_two_factor_are_sent_to_set_it_up(app, uk, proposer):
    coordinator = make_user("no-2fa@example.org")
    make_coordinator(coordinator, uk)
    hub = pending_hub(uk, proposer, "leeds")
    client = client_for(app, coordinator)
    queue = client.get("/chapters/uk/registrations")
    assert queue.status_code == 302
    assert queue.headers["Location"].startswith("/account/two-factor")
    for action in ("approve", "decline"):
        response = decide(client, hub, action, **{"decline-leeds-reason": "No."})
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/account/two-factor")
    db.session.refresh(hub)
    assert hub.status is HubStatus.PENDING
    assert outbox() == []


ROLES = ["visitor", "proposer", "member", "coordinator", "other_coordinator", "admin"]


def test_who_may_decide_on_a_pending_hub(app, uk, proposer, coordinator):
    """The matrix for a pending hub (the shared matrix's hubs are all active)."""
    other = make_user(totp_secret=pyotp.random_base32())
    make_coordinator(other, make_chapter("ca"))
    users = {
        "visitor": None, "proposer": proposer, "member": make_user(),
        "coordinator": coordinator, "other_coordinator": other,
        "admin": make_user(is_site_admin=True, totp_secret=pyotp.random_base32()),
    }
    expected = {"visitor": "login", "proposer": 404, "member": 404, "coordinator": 200,
                "other_coordinator": 404, "admin": 200}

    def outcome(response):
        if response.status_code == 302 and response.headers["Location"].startswith("/sign-in"):
            return "login"
        return response.status_code

    actual = {role: outcome(client_for(app, user).get("/chapters/uk/registrations"))
              for role, user in users.items()}
    assert actual == expected
    for action in ("approve", "decline"):
        hub = pending_hub(uk, proposer, f"matrix-{action}")
        actual = {role: outcome(decide(client_for(app, user), hub, action,
                                       **{f"decline-{hub.slug}-reason": "No."}))
                  for role, user in users.items() if role != "admin"}
        assert actual == {**{k: v for k, v in expected.items() if k != "admin"},
                          "coordinator": 302}


@pytest.mark.parametrize("code", ["zz", "x" * 200, "uk%00", "%00"])
def test_queue_of_an_unknown_chapter_is_404(app, uk, code):
    admin = make_user(is_site_admin=True, totp_secret=pyotp.random_base32())
    assert client_for(app, admin).get(f"/chapters/{code}/registrations").status_code == 404


def test_decision_on_a_garbage_slug_is_404(app, uk, coordinator):
    client = client_for(app, coordinator)
    token = csrf_token(client.get("/"))
    for slug in ("%00", "x" * 300, "a%00b"):
        response = client.post(f"/hubs/{slug}/registration/approve", data={"csrf_token": token})
        assert response.status_code == 404


def test_registration_attempts_are_rate_limited(app, uk, proposer):
    """Each refused address tells whether a hub uses it; probing them is capped."""
    client = client_for(app, proposer)
    token = csrf_token(client.get("/hubs/register"))
    statuses = [client.post("/hubs/register", data={"csrf_token": token, "chapter": "uk",
                                                    "name_en": "", "slug": f"probe-{n}"}
                            ).status_code for n in range(31)]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


# --- the services without HTTP --------------------------------------------------------


def test_approving_a_hub_whose_proposer_is_gone_activates_it_without_a_lead(
        app, uk, coordinator):
    hub = make_hub(uk, "orphan", status=HubStatus.PENDING)
    assert "deleted member" in client_for(app, coordinator).get(
        "/chapters/uk/registrations").get_data(as_text=True)
    with app.test_request_context():
        assert approve_registration(hub, coordinator) is None
    assert hub.status is HubStatus.ACTIVE
    assert outbox() == []
    [entry] = audit_entries("hub.approve")
    assert entry.subject_user_id is None


def test_services_refuse_people_who_may_not_decide(app, uk, proposer):
    hub = pending_hub(uk, proposer)
    with app.test_request_context():
        for actor in (proposer, make_user()):
            with pytest.raises(RegistrationError):
                approve_registration(hub, actor)
            with pytest.raises(RegistrationError):
                decline_registration(hub, actor, "No.")
    assert hub.status is HubStatus.PENDING
    assert outbox() == [] and audit_entries("hub.approve") == []


def test_register_hub_refuses_an_unverified_proposer(app, uk):
    with app.test_request_context(), pytest.raises(RegistrationError):
        register_hub(make_user(verified=False), "uk", name_en="Nope")
    assert hub_count() == 0
