"""Organiser member management: requests, removal, notes, roles and the audit log
(DESIGN §2 rules 1, 8, 10; R2, R5–R10, R20, R45)."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from community.audit_models import AuditEntry
from community.auth.models import UserSession
from community.database import utcnow
from community.extensions import db
from community.factories import (
    make_chapter,
    make_coordinator,
    make_hub,
    make_membership,
    make_user,
)
from community.hubs.models import (
    HubStatus,
    JoinPolicy,
    MemberRole,
    Membership,
    MembershipStatus,
)
from community.hubs.organise import services as services
from tests.conftest import csrf_token, login_as, outbox
from tests.functional.permission_matrix_organise import MATRIX as ORGANISE_MATRIX
from tests.functional.test_permission_matrix import (  # noqa: F401  (world is a fixture)
    ROLES,
    outcome,
    request_as,
    world,
)

EMAIL_MARKER = "secret-mailbox-7f3a"
CSRF = re.compile(r'(name="[^"]*csrf_token" value=")[^"]+')


# --- helpers ------------------------------------------------------------------

def address(name: str) -> str:
    return f"{name.replace(' ', '.').lower()}.{EMAIL_MARKER}@example.org"


def staff_user(name: str, **kw):
    """A user with two-factor on, as R20 requires of organisers."""
    return make_user(address(name), display_name=name, totp_secret=pyotp.random_base32(), **kw)


def plain_user(name: str, **kw):
    return make_user(address(name), display_name=name, **kw)


@pytest.fixture
def crew():
    """A hub that approves joins, with a lead, an organiser, a member and a request."""
    chapter = make_chapter("om")
    hub = make_hub(chapter, "harbour-crew", join_policy=JoinPolicy.APPROVAL,
                   join_question="How did you hear of us?")
    people = {
        "lead": staff_user("Lead Lam"),
        "organiser": staff_user("Organiser Ng"),
        "member": plain_user("Member Mak"),
        "pending": plain_user("Pending Poon", locale="zh_Hant_HK"),
        "coordinator": staff_user("Coordinator Chan"),
        "admin": staff_user("Admin Au", is_site_admin=True),
    }
    memberships = {
        "lead": make_membership(people["lead"], hub, MemberRole.LEAD),
        "organiser": make_membership(people["organiser"], hub, MemberRole.ORGANISER),
        "member": make_membership(people["member"], hub, organiser_notes="Brings the banner"),
        "pending": make_membership(people["pending"], hub, status=MembershipStatus.PENDING,
                                   join_answer="From the Sunday vigil"),
    }
    make_coordinator(people["coordinator"], chapter)
    return {"hub": hub, "chapter": chapter, "people": people, "memberships": memberships}


def as_user(app, user, *, reauthenticated: bool = True):
    return login_as(app.test_client(), user, reauthenticated=reauthenticated)


def post(client, url: str, data: dict | None = None, **kwargs):
    token = csrf_token(client.get("/"))
    return client.post(url, data={"csrf_token": token, **(data or {})}, **kwargs)


def member_url(hub, membership, action: str) -> str:
    return f"/hubs/{hub.slug}/organise/members/{membership.public_id}/{action}"


def entries(action: str | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return list(db.session.scalars(stmt))


def reload(membership) -> Membership | None:
    """The membership as the database now holds it; None once deleted."""
    key = membership.id
    db.session.expire_all()
    return db.session.scalar(select(Membership).where(Membership.id == key))


def masked(response) -> str:
    return CSRF.sub(r"\1", response.get_data(as_text=True))


# --- the permission matrix for routes with a membership id --------------------

TARGET = {"approve": "pending", "decline": "pending", "remove": "member", "notes": "member",
          "role": "organiser"}
WITHOUT_TWO_FACTOR = {"unverified", "other_member", "pending", "member"}
MEMBER_ROUTES = [route for route in ORGANISE_MATRIX if "<membership_id>" in route[1]]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("kind", ["listed", "unlisted"])
@pytest.mark.parametrize("route", MEMBER_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_membership_route_matrix(app, world, route, kind, role):  # noqa: F811 (the fixture)
    method, rule = route
    action = rule.rsplit("/", 1)[1]
    hub = world[kind]
    target = db.session.scalar(select(Membership).where(
        Membership.hub_id == hub.id, Membership.user_id == world["users"][TARGET[action]].id))
    url = rule.replace("<slug>", hub.slug).replace("<membership_id>", target.public_id)
    data = {}
    if action == "notes":
        data = {f"{target.public_id}-notes": "Matrix note"}
    elif action == "role":
        data = {"role": "member"}
    response = request_as(app, world, role, method, url, data)
    expected = ORGANISE_MATRIX[route][kind][ROLES.index(role)]
    assert outcome(response) == expected
    location = response.headers.get("Location", "")
    if role in WITHOUT_TWO_FACTOR:
        # Not staff: the page answers 404 before asking for two-factor (R8).
        assert response.status_code == 404 and not location
    elif expected == 302:
        assert location.startswith(f"/hubs/{hub.slug}/organise/members")


ORGANISE_PATHS = [
    ("GET", "members"), ("GET", "audit"),
    ("POST", "members/{m}/approve"), ("POST", "members/{m}/decline"),
    ("POST", "members/{m}/remove"), ("POST", "members/{m}/notes"),
    ("GET", "members/{m}/role"), ("POST", "members/{m}/role"),
]


@pytest.mark.parametrize("method,path", ORGANISE_PATHS)
def test_r8_member_with_two_factor_gets_the_same_404_as_for_no_hub(app, crew, method, path):
    hub, member = crew["hub"], crew["people"]["member"]
    member.totp_secret = pyotp.random_base32()
    db.session.flush()
    pending = crew["memberships"]["pending"]
    client = as_user(app, member)
    real = f"/hubs/{hub.slug}/organise/" + path.format(m=pending.public_id)
    missing = "/hubs/no-such-hub/organise/" + path.format(m=pending.public_id)
    send = client.get if method == "GET" else (lambda url: post(client, url))
    first, second = send(real), send(missing)
    assert first.status_code == second.status_code == 404
    # The same page, but for the path echoed in the language switch's "next".
    assert masked(first).replace(hub.slug, "SLUG") == masked(second).replace(
        "no-such-hub", "SLUG")
    assert reload(pending).status is MembershipStatus.PENDING


@pytest.mark.parametrize("method,path", ORGANISE_PATHS)
def test_r9_organiser_of_another_hub_gets_404(app, crew, method, path):
    other_hub = make_hub(crew["chapter"], "other-crew")
    outsider = staff_user("Outsider Oh")
    make_membership(outsider, other_hub, MemberRole.LEAD)
    pending = crew["memberships"]["pending"]
    client = as_user(app, outsider)
    url = f"/hubs/{crew['hub'].slug}/organise/" + path.format(m=pending.public_id)
    response = client.get(url) if method == "GET" else post(client, url, {"role": "lead"})
    assert response.status_code == 404
    assert reload(pending).status is MembershipStatus.PENDING
    assert entries() == []


@pytest.mark.parametrize("action", ["approve", "decline", "remove", "notes", "role"])
def test_r9_membership_of_another_hub_through_this_hub_is_404(app, crew, action):
    other_hub = make_hub(crew["chapter"], "other-crew")
    stranger = plain_user("Stranger Sze")
    theirs = make_membership(stranger, other_hub,
                             status=MembershipStatus.PENDING if action in ("approve", "decline")
                             else MembershipStatus.ACTIVE)
    client = as_user(app, crew["people"]["lead"])
    url = member_url(crew["hub"], theirs, action)
    response = post(client, url, {f"{theirs.public_id}-notes": "x", "role": "lead"})
    assert response.status_code == 404
    after = reload(theirs)
    assert after is not None and after.status is theirs.status and after.role is MemberRole.MEMBER
    assert after.organiser_notes == ""
    assert entries() == []


@pytest.mark.parametrize("membership_id", [
    "nope", "x" * 33, "x" * 500, "%00", "abc%00def", "..%2F..%2Fadmin", "' OR 1=1 --",
    "%E4%B8%AD%E6%96%87", "%0D%0ASet-Cookie:x=y",
])
@pytest.mark.parametrize("action", ["approve", "decline", "remove", "notes", "role"])
def test_garbage_membership_ids_are_404_never_500(app, crew, action, membership_id):
    client = as_user(app, crew["people"]["lead"])
    url = f"/hubs/{crew['hub'].slug}/organise/members/{membership_id}/{action}"
    assert post(client, url).status_code == 404
    if action == "role":
        assert client.get(url).status_code == 404


@pytest.mark.parametrize("action", ["approve", "decline", "remove", "notes", "role"])
def test_r26_posts_without_csrf_are_400(app, crew, action):
    client = as_user(app, crew["people"]["lead"])
    target = crew["memberships"]["pending" if action in ("approve", "decline") else "member"]
    response = client.post(member_url(crew["hub"], target, action), data={"role": "lead"})
    assert response.status_code == 400
    after = reload(target)
    assert after is not None and after.status is target.status and after.role is target.role
    assert entries() == []


def test_someone_without_two_factor_is_sent_to_set_it_up(app, crew):
    lead = crew["people"]["lead"]
    lead.totp_secret = None
    db.session.flush()
    response = as_user(app, lead).get(f"/hubs/{crew['hub'].slug}/organise/members")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/two-factor")


def test_an_archived_hub_has_no_member_management_but_keeps_its_audit_log(app, crew):
    crew["hub"].status = HubStatus.ARCHIVED
    db.session.flush()
    lead = as_user(app, crew["people"]["lead"])
    assert lead.get("/hubs/harbour-crew/organise/members").status_code == 404
    assert lead.get("/hubs/harbour-crew/organise/audit").status_code == 200


# --- the members page -----------------------------------------------------------

@pytest.mark.parametrize("who", ["organiser", "lead", "coordinator", "admin"])
def test_r2_members_page_shows_names_answers_and_notes_but_no_email(app, crew, who):
    page = as_user(app, crew["people"][who]).get("/hubs/harbour-crew/organise/members")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("Lead Lam", "Organiser Ng", "Member Mak", "Pending Poon"):
        assert name in html
    assert "From the Sunday vigil" in html and "How did you hear of us?" in html
    assert "Brings the banner" in html
    assert EMAIL_MARKER not in html and "@example.org" not in html
    assert page.headers["Cache-Control"] == "no-store"
    assert '<meta name="robots" content="noindex, nofollow">' in html


def test_r2_no_organiser_page_shows_an_email(app, crew):
    lead = as_user(app, crew["people"]["lead"])
    post(lead, member_url(crew["hub"], crew["memberships"]["pending"], "approve"))
    member = crew["memberships"]["member"]
    for url in ("/hubs/harbour-crew/organise/members", "/hubs/harbour-crew/organise/audit",
                member_url(crew["hub"], member, "role")):
        html = lead.get(url).get_data(as_text=True)
        assert EMAIL_MARKER not in html and "@example.org" not in html, url


def test_members_page_is_accessible_without_javascript(app, crew):
    html = as_user(app, crew["people"]["lead"]).get(
        "/hubs/harbour-crew/organise/members").get_data(as_text=True)
    assert "<script" not in html
    assert html.count("<caption") == 2 and 'scope="col"' in html and 'scope="row"' in html
    member = crew["memberships"]["member"]
    field_id = f"{member.public_id}-notes"
    assert f'<label for="{field_id}">Private notes about Member Mak</label>' in html
    assert f'id="{field_id}"' in html
    # Every id on the page is unique, although each row has its own forms.
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_only_leads_and_above_see_change_role_and_remove_lead(app, crew):
    lead_row = crew["memberships"]["lead"].public_id
    organiser_html = as_user(app, crew["people"]["organiser"]).get(
        "/hubs/harbour-crew/organise/members").get_data(as_text=True)
    assert "Change role" not in organiser_html
    assert f"{lead_row}/remove" not in organiser_html
    assert f"{crew['memberships']['organiser'].public_id}/remove" not in organiser_html  # self
    coordinator_html = as_user(app, crew["people"]["coordinator"]).get(
        "/hubs/harbour-crew/organise/members").get_data(as_text=True)
    assert "Change role" in coordinator_html and f"{lead_row}/remove" in coordinator_html


def test_members_are_paginated_fifty_a_page(app, crew):
    for n in range(55):
        make_membership(make_user(f"bulk{n}@example.org", display_name=f"Bulk {n:02d}"),
                        crew["hub"])
    lead = as_user(app, crew["people"]["lead"])
    first = lead.get("/hubs/harbour-crew/organise/members").get_data(as_text=True)
    second = lead.get("/hubs/harbour-crew/organise/members?page=2").get_data(as_text=True)
    assert "58 active members" in first and "Page 1 of 2" in first
    # Leads and organisers come first, then names in order.
    assert first.index("Lead Lam") < first.index("Organiser Ng") < first.index("Bulk 00")
    assert "Bulk 47" in first and "Bulk 48" not in first
    assert "Bulk 48" in second and "Member Mak" in second and "Page 2 of 2" in second
    for page in ("-1", "abc", "0", "99999999999"):
        assert lead.get(f"/hubs/harbour-crew/organise/members?page={page}").status_code == 200


def test_notes_are_shown_only_on_the_organiser_page(app, crew):
    member = as_user(app, crew["people"]["member"])
    for url in ("/hubs/harbour-crew", "/hubs/harbour-crew/members"):
        assert "Brings the banner" not in member.get(url).get_data(as_text=True)


# --- approve and decline --------------------------------------------------------

def test_approve_lets_them_in_emails_them_in_their_language_and_audits(app, crew):
    hub, pending = crew["hub"], crew["memberships"]["pending"]
    person = crew["people"]["pending"]
    response = post(as_user(app, crew["people"]["organiser"]),
                    member_url(hub, pending, "approve") + "?page=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/hubs/harbour-crew/organise/members?page=1"
    assert reload(pending).status is MembershipStatus.ACTIVE

    mails = outbox()
    assert [m.to_address for m in mails] == [person.email]
    assert "Pending Poon 你好" in mails[0].body_text  # their language, not the organiser's
    assert "https://harbour.test/hubs/harbour-crew" in mails[0].body_text
    assert hub.name_zh in mails[0].subject
    assert crew["people"]["organiser"].email not in mails[0].body_text + mails[0].body_html

    (entry,) = entries()
    assert (entry.action, entry.target_type, entry.target_id) == (
        "member.approve", "membership", pending.public_id)
    assert entry.actor_id == crew["people"]["organiser"].id
    assert entry.subject_user_id == person.id
    assert (entry.hub_id, entry.chapter_id) == (hub.id, crew["chapter"].id)

    page = as_user(app, person).get("/hubs/harbour-crew/members")
    assert page.status_code == 200


def test_decline_deletes_the_request_and_sends_a_neutral_notice(app, crew):
    hub, pending = crew["hub"], crew["memberships"]["pending"]
    person, public_id = crew["people"]["pending"], pending.public_id
    response = post(as_user(app, crew["people"]["lead"]), member_url(hub, pending, "decline"))
    assert response.status_code == 302
    assert reload(pending) is None
    # The answer is encrypted, so look through every row rather than filter on it.
    assert "From the Sunday vigil" not in [
        m.join_answer for m in db.session.scalars(select(Membership))]

    (mail,) = outbox()
    assert mail.to_address == person.email
    for text in (mail.body_text, mail.body_html, mail.subject):
        assert "From the Sunday vigil" not in text
        assert "Lead Lam" not in text
    assert "https://" not in mail.body_text

    (entry,) = entries()
    assert (entry.action, entry.target_id, entry.subject_user_id) == (
        "member.decline", public_id, person.id)
    assert "Sunday vigil" not in entry.detail
    # Refused, they may ask again later.
    assert as_user(app, person).get("/hubs/harbour-crew").status_code == 200


@pytest.mark.parametrize("action", ["approve", "decline"])
def test_an_answered_request_cannot_be_answered_again(app, crew, action):
    member = crew["memberships"]["member"]
    response = post(as_user(app, crew["people"]["lead"]),
                    member_url(crew["hub"], member, action))
    assert response.status_code == 400
    assert "That request has already been answered." in response.get_data(as_text=True)
    assert reload(member).status is MembershipStatus.ACTIVE
    assert entries() == [] and outbox() == []


# --- remove ------------------------------------------------------------------

def test_remove_a_member(app, crew):
    member = crew["memberships"]["member"]
    response = post(as_user(app, crew["people"]["organiser"]),
                    member_url(crew["hub"], member, "remove"))
    assert response.status_code == 302
    assert reload(member).status is MembershipStatus.REMOVED
    (entry,) = entries("member.remove")
    assert entry.subject_user_id == crew["people"]["member"].id and len(entries()) == 1
    # They lose the members' area, cannot rejoin alone, and the row is gone from the page.
    assert as_user(app, crew["people"]["member"]).get(
        "/hubs/harbour-crew/members").status_code == 404
    html = as_user(app, crew["people"]["lead"]).get(
        "/hubs/harbour-crew/organise/members").get_data(as_text=True)
    assert "Member Mak" not in html
    # A removed membership is no longer anything to act on.
    again = post(as_user(app, crew["people"]["lead"]), member_url(crew["hub"], member, "notes"))
    assert again.status_code == 404


def test_an_organiser_cannot_remove_a_lead(app, crew):
    make_membership(staff_user("Second Lead"), crew["hub"], MemberRole.LEAD)
    lead = crew["memberships"]["lead"]
    response = post(as_user(app, crew["people"]["organiser"]),
                    member_url(crew["hub"], lead, "remove"))
    assert response.status_code == 400
    assert "Only a lead, a chapter coordinator or an admin can remove a lead." in \
        response.get_data(as_text=True)
    assert reload(lead).status is MembershipStatus.ACTIVE and entries() == []


def test_a_lead_can_remove_another_lead_but_not_the_last(app, crew):
    second = make_membership(staff_user("Second Lead"), crew["hub"], MemberRole.LEAD)
    lead_client = as_user(app, crew["people"]["lead"])
    assert post(lead_client, member_url(crew["hub"], second, "remove")).status_code == 302
    removed = reload(second)
    assert removed.status is MembershipStatus.REMOVED and removed.role is MemberRole.MEMBER
    assert entries("member.remove")[0].detail == "role=lead"

    only = crew["memberships"]["lead"]
    response = post(as_user(app, crew["people"]["coordinator"]),
                    member_url(crew["hub"], only, "remove"))
    assert response.status_code == 400
    assert "is this hub&#39;s only lead" in response.get_data(as_text=True)
    assert reload(only).status is MembershipStatus.ACTIVE
    assert len(entries()) == 1


def test_you_cannot_remove_yourself_here(app, crew):
    organiser = crew["memberships"]["organiser"]
    response = post(as_user(app, crew["people"]["organiser"]),
                    member_url(crew["hub"], organiser, "remove"))
    assert response.status_code == 400
    assert "You cannot remove yourself here." in response.get_data(as_text=True)
    assert reload(organiser).status is MembershipStatus.ACTIVE and entries() == []


def test_r10_extra_fields_change_nothing(app, crew):
    member = crew["memberships"]["member"]
    other_hub = make_hub(crew["chapter"], "other-crew")
    extra = {"role": "lead", "hub_id": str(other_hub.id), "is_approved": "1", "is_admin": "1",
             "user_id": str(crew["people"]["lead"].id), "status": "active"}
    client = as_user(app, crew["people"]["organiser"])
    response = post(client, member_url(crew["hub"], member, "notes"),
                    {**extra, f"{member.public_id}-notes": "Only the notes change"})
    assert response.status_code == 302
    after = reload(member)
    assert after.organiser_notes == "Only the notes change"
    assert (after.role, after.hub_id, after.user_id, after.status) == (
        MemberRole.MEMBER, crew["hub"].id, crew["people"]["member"].id, MembershipStatus.ACTIVE)
    assert not crew["people"]["member"].is_site_admin


# --- notes -----------------------------------------------------------------

def test_notes_are_saved_and_audited_without_their_text(app, crew):
    member = crew["memberships"]["member"]
    client = as_user(app, crew["people"]["organiser"])
    field = f"{member.public_id}-notes"
    response = post(client, member_url(crew["hub"], member, "notes") + "?page=1",
                    {field: "  Knows the venue\r\nkeeps\x00 keys  "})
    assert response.status_code == 302
    assert reload(member).organiser_notes == "Knows the venue\nkeeps keys"
    (entry,) = entries()
    assert (entry.action, entry.subject_user_id) == ("member.notes", crew["people"]["member"].id)
    assert "venue" not in entry.detail
    assert post(client, member_url(crew["hub"], member, "notes"), {field: ""}).status_code == 302
    assert reload(member).organiser_notes == ""
    assert [e.detail for e in entries()] == ["", "cleared"]


def test_notes_of_2000_characters_fit_and_line_breaks_count_once(app, crew):
    member = crew["memberships"]["member"]
    client = as_user(app, crew["people"]["lead"])
    field = f"{member.public_id}-notes"
    assert post(client, member_url(crew["hub"], member, "notes"),
                {field: "n" * 2000}).status_code == 302
    # 2999 characters as sent, 2000 once each CRLF is one line break.
    assert post(client, member_url(crew["hub"], member, "notes"),
                {field: "a\r\n" * 999 + "zz"}).status_code == 302
    assert len(reload(member).organiser_notes) == 2000


def test_overlong_notes_are_refused_with_the_input_kept(app, crew):
    member = crew["memberships"]["member"]
    field = f"{member.public_id}-notes"
    too_long = "Q" * 2001
    response = post(as_user(app, crew["people"]["lead"]),
                    member_url(crew["hub"], member, "notes"), {field: too_long})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Use at most 2000 characters." in html
    assert too_long in html  # what they typed is still there
    assert f'aria-describedby="{field}-error"' in html and 'aria-invalid="true"' in html
    assert f'href="#{field}"' in html
    assert reload(member).organiser_notes == "Brings the banner" and entries() == []


def test_overlong_notes_error_is_translated(app, crew):
    lead = crew["people"]["lead"]
    lead.locale = "zh_Hant_HK"
    db.session.flush()
    member = crew["memberships"]["member"]
    response = post(as_user(app, lead), member_url(crew["hub"], member, "notes"),
                    {f"{member.public_id}-notes": "Q" * 2001})
    assert response.status_code == 400
    assert "最多只可以用 2000 個字元。" in response.get_data(as_text=True)


# --- roles -------------------------------------------------------------------

def test_a_lead_makes_a_member_with_two_factor_an_organiser(app, crew):
    member = crew["memberships"]["member"]
    crew["people"]["member"].totp_secret = pyotp.random_base32()
    db.session.flush()
    client = as_user(app, crew["people"]["lead"])
    page = client.get(member_url(crew["hub"], member, "role"))
    assert page.status_code == 200 and "Change the role of Member Mak" in page.get_data(
        as_text=True)
    response = post(client, member_url(crew["hub"], member, "role"), {"role": "organiser"})
    assert response.status_code == 302
    assert reload(member).role is MemberRole.ORGANISER
    (entry,) = entries()
    assert (entry.action, entry.detail, entry.subject_user_id) == (
        "member.role", "member->organiser", crew["people"]["member"].id)
    # The new organiser can now manage members.
    assert as_user(app, crew["people"]["member"]).get(
        "/hubs/harbour-crew/organise/members").status_code == 200


@pytest.mark.parametrize("role", ["organiser", "lead"])
def test_r20_no_organiser_or_lead_without_two_factor(app, crew, role):
    member = crew["memberships"]["member"]
    response = post(as_user(app, crew["people"]["admin"]),
                    member_url(crew["hub"], member, "role"), {"role": role})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Member Mak must turn on two-factor authentication" in html
    assert 'aria-invalid="true"' in html
    assert reload(member).role is MemberRole.MEMBER and entries() == []


def test_a_private_test_instance_can_relax_the_two_factor_rule(app, crew, monkeypatch):
    monkeypatch.setitem(app.config, "TWO_FACTOR_REQUIRED_FOR_STAFF", False)
    member = crew["memberships"]["member"]
    response = post(as_user(app, crew["people"]["lead"]),
                    member_url(crew["hub"], member, "role"), {"role": "organiser"})
    assert response.status_code == 302
    assert reload(member).role is MemberRole.ORGANISER


def test_r20_granting_a_role_needs_a_recent_reauthentication(app, crew):
    member = crew["memberships"]["member"]
    url = member_url(crew["hub"], member, "role")
    client = as_user(app, crew["people"]["lead"])
    record = db.session.scalar(select(UserSession).where(
        UserSession.user_id == crew["people"]["lead"].id))
    record.reauthenticated_at = utcnow() - timedelta(minutes=11)
    db.session.flush()
    for response in (client.get(url), post(client, url, {"role": "member"})):
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/account/confirm")
    # After confirming, the browser comes back to a page, not to a POST-only URL.
    assert client.get(url).headers["Location"] == f"/account/confirm?next={url}"
    assert entries() == []


@pytest.mark.parametrize("value", ["superadmin", "", "LEAD", " lead", "x" * 5000])
def test_unknown_roles_are_refused_with_a_message(app, crew, value):
    organiser = crew["memberships"]["organiser"]
    response = post(as_user(app, crew["people"]["lead"]),
                    member_url(crew["hub"], organiser, "role"), {"role": value})
    assert response.status_code == 400
    assert "Choose member, organiser or lead." in response.get_data(as_text=True)
    assert reload(organiser).role is MemberRole.ORGANISER and entries() == []


def test_the_last_lead_cannot_be_demoted(app, crew):
    lead = crew["memberships"]["lead"]
    response = post(as_user(app, crew["people"]["lead"]),
                    member_url(crew["hub"], lead, "role"), {"role": "organiser"})
    assert response.status_code == 400
    assert "is this hub&#39;s only lead" in response.get_data(as_text=True)
    assert reload(lead).role is MemberRole.LEAD and entries() == []
    # With a second lead, stepping down works.
    make_membership(staff_user("Second Lead"), crew["hub"], MemberRole.LEAD)
    assert post(as_user(app, crew["people"]["coordinator"]),
                member_url(crew["hub"], lead, "role"), {"role": "organiser"}).status_code == 302
    assert reload(lead).role is MemberRole.ORGANISER


def test_the_same_role_again_is_refused(app, crew):
    organiser = crew["memberships"]["organiser"]
    response = post(as_user(app, crew["people"]["lead"]),
                    member_url(crew["hub"], organiser, "role"), {"role": "organiser"})
    assert response.status_code == 400
    assert "Organiser Ng already has that role." in response.get_data(as_text=True)


def test_a_pending_request_has_no_role_to_change(app, crew):
    pending = crew["memberships"]["pending"]
    response = post(as_user(app, crew["people"]["lead"]),
                    member_url(crew["hub"], pending, "role"), {"role": "member"})
    assert response.status_code == 400
    assert "is not an active member" in response.get_data(as_text=True)


# --- services without HTTP ---------------------------------------------------

def test_services_refuse_someone_without_the_right(app, crew):
    member = crew["memberships"]["member"]
    with app.test_request_context():
        with pytest.raises(services.OrganiseError):
            services.remove(crew["people"]["member"], crew["memberships"]["organiser"])
        with pytest.raises(services.OrganiseError):
            services.set_role(crew["people"]["organiser"], member, MemberRole.MEMBER)
        with pytest.raises(services.OrganiseError):
            services.approve(crew["people"]["member"], crew["memberships"]["pending"])
    assert entries() == []


def test_membership_lookup_ignores_other_hubs_removed_members_and_garbage(crew):
    hub = crew["hub"]
    other = make_membership(plain_user("Elsewhere"), make_hub(crew["chapter"]))
    removed = make_membership(plain_user("Gone"), hub, status=MembershipStatus.REMOVED)
    assert services.membership_in(hub, crew["memberships"]["member"].public_id) is not None
    for value in (other.public_id, removed.public_id, "", "a\x00b", "x" * 40, None):
        assert services.membership_in(hub, value) is None


# --- the audit log -----------------------------------------------------------

def test_audit_log_lists_the_hubs_entries_newest_first_in_words(app, crew):
    hub = crew["hub"]
    lead = as_user(app, crew["people"]["lead"])
    post(lead, member_url(hub, crew["memberships"]["pending"], "approve"))
    post(lead, member_url(hub, crew["memberships"]["member"], "notes"),
         {f"{crew['memberships']['member'].public_id}-notes": "Secret note text"})
    crew["people"]["organiser"].totp_secret = pyotp.random_base32()
    post(lead, member_url(hub, crew["memberships"]["organiser"], "role"), {"role": "member"})
    other_hub = make_hub(crew["chapter"], "other-crew")
    db.session.add(AuditEntry(actor_id=crew["people"]["admin"].id, action="member.remove",
                              target_type="membership", target_id="elsewhere-entry",
                              hub_id=other_hub.id, detail="OTHER-HUB-MARKER"))
    db.session.flush()

    html = lead.get("/hubs/harbour-crew/organise/audit").get_data(as_text=True)
    assert "3 entries" in html
    table = html[html.index("<tbody>"):]
    positions = [table.index(words) for words in (
        "Changed a member&#39;s role", "Edited private notes about a member",
        "Approved a request to join")]
    assert positions == sorted(positions)
    assert "Organiser to Member" in html
    assert "Lead Lam" in html and "Pending Poon" in html and "Member Mak" in html
    assert "Secret note text" not in html and "OTHER-HUB-MARKER" not in html
    assert EMAIL_MARKER not in html
    assert '<select id="action" name="action">' in html  # through render_field


def test_audit_log_filters_by_action_and_paginates(app, crew):
    hub = crew["hub"]
    for n in range(52):
        db.session.add(AuditEntry(actor_id=crew["people"]["lead"].id, action="member.notes",
                                  target_type="membership", target_id=f"t{n}", hub_id=hub.id))
    db.session.add(AuditEntry(actor_id=crew["people"]["lead"].id, action="member.approve",
                              target_type="membership", target_id="approved-one",
                              hub_id=hub.id, subject_user_id=crew["people"]["member"].id))
    db.session.flush()
    lead = as_user(app, crew["people"]["lead"])
    first = lead.get("/hubs/harbour-crew/organise/audit").get_data(as_text=True)
    assert "53 entries" in first and "Page 1 of 2" in first
    only = lead.get("/hubs/harbour-crew/organise/audit?action=member.approve").get_data(
        as_text=True)
    assert "1 entry" in only and "Approved a request to join" in only
    assert '<option selected value="member.approve">' in only
    second = lead.get("/hubs/harbour-crew/organise/audit?action=member.notes&page=2")
    assert "Page 2 of 2" in second.get_data(as_text=True)
    assert "action=member.notes" in second.get_data(as_text=True)


@pytest.mark.parametrize("query", [
    {"action": "nope"}, {"action": "x" * 5000}, {"action": "member.approve\x00"},
    {"action": "' OR 1=1 --"}, {"action": ["member.approve", "member.notes"]},
    {"page": "-1"}, {"page": "abc"}, {"page": "99999999999"}, {"page": "\x00"},
])
def test_audit_log_survives_bad_filters(app, crew, query):
    response = as_user(app, crew["people"]["admin"]).get(
        "/hubs/harbour-crew/organise/audit", query_string=query)
    assert response.status_code == 200


def test_unknown_filter_is_said_and_shows_everything(app, crew):
    db.session.add(AuditEntry(action="member.notes", target_type="membership", target_id="t",
                              hub_id=crew["hub"].id))
    db.session.flush()
    html = as_user(app, crew["people"]["lead"]).get(
        "/hubs/harbour-crew/organise/audit?action=nope").get_data(as_text=True)
    assert "Choose an action from the list." in html and "1 entry" in html


def test_audit_log_names_deleted_members_and_unknown_actions(app, crew):
    db.session.add(AuditEntry(actor_id=None, actor_pseudonym="deleted-abc",
                              action="attendees.view", target_type="event",
                              target_id="evt123", hub_id=crew["hub"].id))
    db.session.add(AuditEntry(actor_id=crew["people"]["lead"].id, action="member.remove",
                              target_type="membership", target_id="gone",
                              hub_id=crew["hub"].id, detail="role=organiser"))
    db.session.flush()
    html = as_user(app, crew["people"]["lead"]).get(
        "/hubs/harbour-crew/organise/audit").get_data(as_text=True)
    assert html.count("deleted member") == 2
    assert "attendees.view" in html and "event evt123" in html
    assert "Role was: Organiser" in html


def test_audit_entries_cannot_be_changed_through_any_route(app, crew):
    for rule in app.url_map.iter_rules():
        if "audit" in rule.rule:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule.rule
    lead = as_user(app, crew["people"]["lead"])
    assert post(lead, "/hubs/harbour-crew/organise/audit").status_code == 405


def test_r37_no_ip_address_reaches_the_audit_log(app, crew):
    client = as_user(app, crew["people"]["lead"])
    client.environ_base["REMOTE_ADDR"] = "203.0.113.77"
    post(client, member_url(crew["hub"], crew["memberships"]["pending"], "approve"))
    post(client, member_url(crew["hub"], crew["memberships"]["member"], "remove"))
    rows = entries()
    assert len(rows) == 2
    for row in rows:
        values = [str(getattr(row, column.key)) for column in AuditEntry.__table__.columns]
        assert not any("203.0.113.77" in value for value in values)


def test_pages_render_in_chinese(app, crew):
    lead = crew["people"]["lead"]
    lead.locale = "zh_Hant_HK"
    db.session.flush()
    client = as_user(app, lead)
    for url in ("/hubs/harbour-crew/organise/members", "/hubs/harbour-crew/organise/audit",
                member_url(crew["hub"], crew["memberships"]["member"], "role")):
        response = client.get(url)
        assert response.status_code == 200
        assert 'lang="zh-Hant-HK"' in response.get_data(as_text=True)
