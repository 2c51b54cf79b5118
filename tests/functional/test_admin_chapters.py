"""Admin chapters and hubs (issue 7 item 1; R20, R45): who may enter, each
change audited once, bad input never a 500."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from community.audit_models import AuditEntry
from community.extensions import db
from community.factories import (
    make_chapter,
    make_coordinator,
    make_hub,
    make_membership,
    make_user,
)
from community.hubs.models import Chapter, ChapterRole, HubStatus, MemberRole
from tests.conftest import csrf_token, login_as
from tests.functional import test_permission_matrix as matrix
from tests.functional.test_permission_matrix import LOGIN, ROLES, outcome, request_as

world = matrix.world

ONLY_ADMIN = [LOGIN] + [404] * 7


def admin_client(app):
    user = make_user(is_site_admin=True, totp_secret=pyotp.random_base32())
    return login_as(app.test_client(), user), user


def entries(action: str | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return list(db.session.scalars(stmt))


def token(client, url="/admin/chapters") -> str:
    return csrf_token(client.get(url))


def two_factor_user(**kw):
    return make_user(totp_secret=pyotp.random_base32(), **kw)


# --- who may enter ---------------------------------------------------------------

@pytest.mark.parametrize("rule", [
    "/admin/chapters", "/admin/chapters/new", "/admin/chapters/{code}",
    "/admin/chapters/{code}?q=matrix", "/admin/hubs", "/admin/hubs?status=active",
    "/admin/hubs/{hub}/lead",
])
def test_matrix_get_routes_are_for_admins_only(app, world, rule):
    url = rule.format(code=world["chapter"].code, hub=world["listed"].slug)
    actual = [outcome(request_as(app, world, role, "GET", url)) for role in ROLES]
    assert actual == ONLY_ADMIN + [200]


def _post(world, action):
    """(url, data, audit action) of one admin change on the matrix world."""
    chapter, hub = world["chapter"], world["listed"]
    if action == "new":
        return "/admin/chapters/new", {"code": "new-one", "name_en": "New", "name_zh": "新",
                                       "default_timezone": "Europe/Paris"}, "chapter_create"
    if action == "edit":
        return (f"/admin/chapters/{chapter.code}",
                {"name_en": "Renamed", "name_zh": "改名", "default_timezone": "Asia/Taipei"},
                "chapter_edit")
    if action == "appoint":
        person = two_factor_user()
        return (f"/admin/chapters/{chapter.code}/coordinators", {"user": person.public_id},
                "coordinator_appoint")
    if action == "remove":
        person = two_factor_user()
        make_coordinator(person, chapter)
        return (f"/admin/chapters/{chapter.code}/coordinators/{person.public_id}/remove", {},
                "coordinator_remove")
    if action == "archive":
        return f"/admin/hubs/{hub.slug}/archive", {}, "hub_archive"
    if action == "restore":
        archived = make_hub(chapter, "matrix-archived", status=HubStatus.ARCHIVED)
        return f"/admin/hubs/{archived.slug}/restore", {}, "hub_restore"
    person = two_factor_user()
    membership = make_membership(person, hub)
    return f"/admin/hubs/{hub.slug}/lead", {"member": membership.public_id}, "hub_lead"


@pytest.mark.parametrize("action", ["new", "edit", "appoint", "remove", "archive", "restore",
                                    "lead"])
def test_matrix_post_routes_are_for_admins_only(app, world, action):
    url, data, audited = _post(world, action)
    actual = [outcome(request_as(app, world, role, "POST", url, data)) for role in ROLES]
    assert actual == ONLY_ADMIN + [302]
    (entry,) = entries(f"admin.{audited}")
    assert entry.actor_id == world["users"]["admin"].id


@pytest.mark.parametrize("url", [
    "/admin/chapters/new", "/admin/chapters/{code}", "/admin/chapters/{code}/coordinators",
    "/admin/chapters/{code}/coordinators/{user}/remove", "/admin/hubs/{hub}/archive",
    "/admin/hubs/{hub}/restore", "/admin/hubs/{hub}/lead",
])
def test_r26_posts_without_csrf_are_refused(app, url):
    client, _admin = admin_client(app)
    chapter = make_chapter("nc")
    hub = make_hub(chapter, "no-csrf")
    person = two_factor_user()
    make_coordinator(person, chapter)
    url = url.format(code=chapter.code, hub=hub.slug, user=person.public_id)
    data = {"code": "zz", "name_en": "A", "name_zh": "B", "default_timezone": "UTC",
            "user": person.public_id, "member": "x"}
    assert client.post(url, data=data).status_code == 400
    assert entries() == []


# --- chapters --------------------------------------------------------------------

def test_add_a_chapter_and_see_it_listed(app):
    client, admin = admin_client(app)
    response = client.post("/admin/chapters/new", data={
        "csrf_token": token(client), "code": "tw-north", "name_en": "Taiwan North",
        "name_zh": "台灣北部", "default_timezone": "Asia/Taipei"})
    assert response.status_code == 302
    chapter = db.session.scalar(select(Chapter).where(Chapter.code == "tw-north"))
    assert (chapter.name_en, chapter.name_zh, chapter.default_timezone) == (
        "Taiwan North", "台灣北部", "Asia/Taipei")
    (entry,) = entries()
    assert (entry.action, entry.actor_id, entry.target_type, entry.target_id,
            entry.chapter_id) == ("admin.chapter_create", admin.id, "chapter", "tw-north",
                                  chapter.id)
    html = client.get("/admin/chapters").get_data(as_text=True)
    assert "Taiwan North" in html and "台灣北部" in html


@pytest.mark.parametrize(("field", "value"), [
    ("code", "A"), ("code", "UK"), ("code", "x" * 17), ("code", "a b"), ("code", "a_b"),
    ("code", "\x00\x00"), ("code", ""), ("name_en", ""), ("name_zh", "   "),
    ("name_en", "n" * 101), ("default_timezone", "Mars/Olympus"),
    ("default_timezone", "\x00"), ("default_timezone", ""),
])
def test_bad_chapter_input_is_a_field_error(app, field, value):
    client, _admin = admin_client(app)
    data = {"csrf_token": token(client), "code": "ok", "name_en": "Fine", "name_zh": "好",
            "default_timezone": "Europe/London", field: value}
    response = client.post("/admin/chapters/new", data=data)
    assert response.status_code == 400
    assert 'class="error"' in response.get_data(as_text=True)
    assert entries() == []


def test_duplicate_code_is_a_field_error_not_a_500(app):
    make_chapter("dup")
    client, _admin = admin_client(app)
    response = client.post("/admin/chapters/new", data={
        "csrf_token": token(client), "code": "dup", "name_en": "Again", "name_zh": "再",
        "default_timezone": "Europe/London"})
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert entries() == []


def test_edit_names_and_zone(app):
    chapter = make_chapter("ed", name_en="Old", name_zh="舊")
    client, admin = admin_client(app)
    url = f"/admin/chapters/{chapter.code}"
    page = client.get(url)
    assert 'value="Old"' in page.get_data(as_text=True)
    response = client.post(url, data={"csrf_token": csrf_token(page), "name_en": "New",
                                      "name_zh": "新", "default_timezone": "Asia/Hong_Kong"})
    assert response.status_code == 302
    db.session.refresh(chapter)
    assert (chapter.code, chapter.name_en, chapter.name_zh, chapter.default_timezone) == (
        "ed", "New", "新", "Asia/Hong_Kong")
    (entry,) = entries("admin.chapter_edit")
    assert (entry.actor_id, entry.target_id) == (admin.id, "ed")
    bad = client.post(url, data={"csrf_token": token(client), "name_en": "New",
                                 "name_zh": "新", "default_timezone": "Nowhere"})
    assert bad.status_code == 400 and len(entries()) == 1


def test_appoint_needs_two_factor_and_removal_works(app):
    chapter = make_chapter("co")
    no_2fa = make_user(display_name="Plain Person")
    enrolled = two_factor_user(display_name="Careful Person")
    client, admin = admin_client(app)
    url = f"/admin/chapters/{chapter.code}"
    html = client.get(url + "?q=person").get_data(as_text=True)
    assert "Plain Person" in html and "Careful Person" in html

    response = client.post(url + "/coordinators",
                           data={"csrf_token": token(client), "user": no_2fa.public_id})
    assert response.status_code == 400
    assert "two-factor" in response.get_data(as_text=True)
    assert entries() == []

    response = client.post(url + "/coordinators",
                           data={"csrf_token": token(client), "user": enrolled.public_id})
    assert response.status_code == 302
    assert db.session.scalar(select(ChapterRole).where(ChapterRole.user_id == enrolled.id))
    (entry,) = entries("admin.coordinator_appoint")
    assert (entry.actor_id, entry.subject_user_id, entry.chapter_id) == (
        admin.id, enrolled.id, chapter.id)
    again = client.post(url + "/coordinators",
                        data={"csrf_token": token(client), "user": enrolled.public_id})
    assert again.status_code == 400 and len(entries()) == 1

    response = client.post(f"{url}/coordinators/{enrolled.public_id}/remove",
                           data={"csrf_token": token(client)})
    assert response.status_code == 302
    assert db.session.scalar(select(ChapterRole).where(ChapterRole.user_id == enrolled.id)) \
        is None
    (entry,) = entries("admin.coordinator_remove")
    assert (entry.actor_id, entry.subject_user_id) == (admin.id, enrolled.id)
    again = client.post(f"{url}/coordinators/{enrolled.public_id}/remove",
                        data={"csrf_token": token(client)})
    assert again.status_code == 400 and len(entries()) == 2


# --- hubs ------------------------------------------------------------------------

def test_hub_list_filters_by_chapter_and_status(app):
    one, two = make_chapter("fa"), make_chapter("fb")
    make_hub(one, "alpha-hub", name_en="Alpha Hub")
    make_hub(two, "beta-hub", name_en="Beta Hub", status=HubStatus.ARCHIVED)
    client, _admin = admin_client(app)
    html = client.get("/admin/hubs").get_data(as_text=True)
    assert "Alpha Hub" in html and "Beta Hub" in html
    html = client.get("/admin/hubs?chapter=fa").get_data(as_text=True)
    assert "Alpha Hub" in html and "Beta Hub" not in html
    html = client.get("/admin/hubs?status=archived").get_data(as_text=True)
    assert "Alpha Hub" not in html and "Beta Hub" in html


def test_archive_and_restore(app):
    hub = make_hub(make_chapter("ar"), "archivable")
    client, admin = admin_client(app)
    url = f"/admin/hubs/{hub.slug}"
    assert client.post(url + "/restore", data={"csrf_token": token(client)}).status_code == 302
    assert hub.status is HubStatus.ACTIVE and entries() == []
    assert client.post(url + "/archive", data={"csrf_token": token(client)}).status_code == 302
    db.session.refresh(hub)
    assert hub.status is HubStatus.ARCHIVED
    assert client.post(url + "/restore", data={"csrf_token": token(client)}).status_code == 302
    db.session.refresh(hub)
    assert hub.status is HubStatus.ACTIVE
    assert [(e.action, e.actor_id, e.target_id, e.hub_id) for e in entries()] == [
        ("admin.hub_archive", admin.id, hub.slug, hub.id),
        ("admin.hub_restore", admin.id, hub.slug, hub.id)]


def test_change_lead_needs_two_factor_and_demotes_the_old_lead(app):
    hub = make_hub(make_chapter("ld"), "lead-change")
    old = make_membership(two_factor_user(), hub, MemberRole.LEAD)
    plain = make_membership(make_user(), hub)
    chosen = make_membership(two_factor_user(), hub)
    removed_hub = make_hub(make_chapter("lx"))
    elsewhere = make_membership(two_factor_user(), removed_hub)
    client, admin = admin_client(app)
    url = f"/admin/hubs/{hub.slug}/lead"

    for member, message in ((plain, "two-factor"), (elsewhere, "active members"),
                            (old, "already"), (None, "")):
        data = {"csrf_token": token(client, url)}
        if member is not None:
            data["member"] = member.public_id
        response = client.post(url, data=data)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    assert entries() == []

    response = client.post(url, data={"csrf_token": token(client, url),
                                      "member": chosen.public_id})
    assert response.status_code == 302
    db.session.refresh(old)
    db.session.refresh(chosen)
    assert (old.role, chosen.role) == (MemberRole.ORGANISER, MemberRole.LEAD)
    (entry,) = entries("admin.hub_lead")
    assert (entry.actor_id, entry.subject_user_id, entry.hub_id) == (
        admin.id, chosen.user_id, hub.id)


# --- bad input -------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "/admin/chapters/%00", "/admin/chapters/NOPE", "/admin/chapters/" + "x" * 300,
    "/admin/chapters/nope?q=%00", "/admin/hubs?chapter=%00&status=%00",
    "/admin/hubs?status=nonsense&page=-3", "/admin/hubs?page=abc&chapter=" + "c" * 500,
    "/admin/hubs/%00/lead", "/admin/hubs/" + "h" * 300 + "/lead", "/admin/hubs/nope/lead",
])
def test_bad_get_input_never_500s(app, url):
    client, _admin = admin_client(app)
    assert client.get(url).status_code < 500


def test_bad_post_input_never_500s(app):
    chapter = make_chapter("bp")
    hub = make_hub(chapter, "bad-posts")
    client, _admin = admin_client(app)
    csrf = token(client)
    for url, data in [
        ("/admin/chapters/nope/coordinators", {"user": "x"}),
        (f"/admin/chapters/{chapter.code}/coordinators", {"user": "\x00"}),
        (f"/admin/chapters/{chapter.code}/coordinators", {"user": "y" * 300}),
        (f"/admin/chapters/{chapter.code}/coordinators", {"user": "unknown"}),
        (f"/admin/chapters/{chapter.code}/coordinators/%00/remove", {}),
        (f"/admin/chapters/{chapter.code}", {"name_en": "\x00", "default_timezone": "\x00"}),
        ("/admin/hubs/%00/archive", {}),
        (f"/admin/hubs/{hub.slug}/lead", {"member": "\x00"}),
        (f"/admin/hubs/{hub.slug}/lead", {"member": "z" * 500}),
    ]:
        response = client.post(url, data={"csrf_token": csrf, **data})
        assert response.status_code in (400, 404), url
    assert entries() == []


def test_pending_hub_lead_cannot_be_changed(app):
    hub = make_hub(make_chapter("pd"), "pending-lead", status=HubStatus.PENDING)
    member = make_membership(two_factor_user(), hub)
    client, _admin = admin_client(app)
    url = f"/admin/hubs/{hub.slug}/lead"
    response = client.post(url, data={"csrf_token": token(client, url),
                                      "member": member.public_id})
    assert response.status_code == 400 and entries() == []
