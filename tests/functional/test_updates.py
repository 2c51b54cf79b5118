"""Updates: posting, editing with history, publishing, who may read them, and
what Markdown and text may not smuggle into the page (R32, R33)."""

from __future__ import annotations

import re

import pyotp
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from community.audit_models import AuditEntry
from community.extensions import db
from community.factories import (
    make_chapter,
    make_coordinator,
    make_hub,
    make_membership,
    make_update,
    make_user,
)
from community.hubs.models import HubVisibility, MemberRole, MembershipStatus
from community.updates.models import Update, UpdateAudience, UpdateRevision, UpdateStatus
from tests.conftest import csrf_token, login_as

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example/></iframe>",
    "<svg onload=alert(1)>",
    "![x](https://evil.example/t.png)",
    '<img src="https://evil.example/t.png">',
]
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "data", "poster",
                  "background", "xlink:href"}


def assert_nothing_executable(html: str) -> None:
    """Payloads may appear as escaped text, never as markup."""
    lowered = html.lower()
    for raw in ("<script", "<img", "<iframe", "<svg"):
        # base.html may load its own same-origin script; none of ours is inline.
        if raw == "<script":
            assert all("src=\"/static/" in tag for tag in re.findall(r"<script[^>]*>", lowered))
            assert "alert(1)</script>" not in lowered
        else:
            assert raw not in lowered, raw
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(True):
        assert tag.name not in ("script", "img", "iframe", "svg", "object", "embed") or (
            tag.name == "script" and tag.get("src", "").startswith("/static/")), tag
        for name, value in tag.attrs.items():
            # An event handler attribute, or a URL that runs code or leaks to a third
            # party; text in a form field's value is only text.
            assert not name.lower().startswith("on"), tag
            if name.lower() in URL_ATTRIBUTES:
                assert not value.lower().lstrip().startswith(("javascript:", "data:")), tag
                # A link someone may choose to follow is fine; nothing loads by itself.
                if tag.name != "a":
                    assert "evil.example" not in value, tag
    for text in soup.find_all(string=True):
        # Escaped payloads are harmless text; unescaped they would have been parsed as tags.
        assert "onerror=" not in text or "<" in text, text


@pytest.fixture
def world():
    chapter = make_chapter("up")
    hub = make_hub(chapter, "updates-hub")
    other_hub = make_hub(chapter, "other-hub")
    secret = pyotp.random_base32
    users = {
        "organiser": make_user("organiser@up.example", totp_secret=secret(),
                               display_name="Olive Organiser"),
        "organiser_no_2fa": make_user("nofa@up.example"),
        "member": make_user("member@up.example", display_name="Mo Member"),
        "pending": make_user("pending@up.example"),
        "outsider": make_user("outsider@up.example"),
        "other_organiser": make_user("other@up.example", totp_secret=secret()),
        "coordinator": make_user("coordinator@up.example", totp_secret=secret()),
        "admin": make_user("admin@up.example", totp_secret=secret(), is_site_admin=True),
    }
    make_membership(users["organiser"], hub, MemberRole.ORGANISER)
    make_membership(users["organiser_no_2fa"], hub, MemberRole.ORGANISER)
    make_membership(users["member"], hub)
    make_membership(users["pending"], hub, status=MembershipStatus.PENDING)
    make_membership(users["other_organiser"], other_hub, MemberRole.ORGANISER)
    make_coordinator(users["coordinator"], chapter)
    return {"chapter": chapter, "hub": hub, "other_hub": other_hub, **users}


def same_page(one, other) -> bool:
    """Two answers alike but for per-request tokens (CSRF, nonces)."""
    def clean(response):
        return re.sub(r'(value|nonce|content)="[^"]*"', "", response.get_data(as_text=True))
    return one.status_code == other.status_code and clean(one) == clean(other)


def client_for(app, user=None):
    client = app.test_client()
    if user is not None:
        login_as(client, user)
    return client


def form_data(**overrides) -> dict:
    data = {"title_en": "Picnic news", "title_zh": "野餐消息", "body_en": "Bring **food**.",
            "body_zh": "請帶食物。", "audience": "members", "allow_comments": "y"}
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def post_new(client, url: str, **overrides):
    token = csrf_token(client.get(url))
    return client.post(url, data={"csrf_token": token, **form_data(**overrides)})


def only_update() -> Update:
    return db.session.scalars(select(Update)).one()


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


# --- posting ---------------------------------------------------------------------


def test_organiser_posts_a_published_bilingual_members_only_update(app, world):
    client = client_for(app, world["organiser"])
    response = post_new(client, "/hubs/updates-hub/updates/new", publish="y")
    assert response.status_code == 302
    update = only_update()
    assert response.headers["Location"] == f"/updates/{update.public_id}"
    assert update.status is UpdateStatus.PUBLISHED and update.published_at is not None
    assert update.audience is UpdateAudience.MEMBERS and update.allow_comments
    assert update.author_id == world["organiser"].id and update.hub_id == world["hub"].id
    assert update.body_en == "Bring **food**."  # Markdown source, never HTML
    assert actions() == ["update.create", "update.publish"]
    page = client_for(app, world["member"]).get(f"/updates/{update.public_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # The hub speaks for its organisers unless it chooses to show authors (issue 16).
    assert "<strong>food</strong>" in html and "Olive Organiser" not in html


def test_a_draft_is_kept_and_published_later(app, world):
    client = client_for(app, world["organiser"])
    assert post_new(client, "/hubs/updates-hub/updates/new").status_code == 302
    update = only_update()
    assert update.status is UpdateStatus.DRAFT and update.published_at is None
    url = f"/updates/{update.public_id}"
    assert client_for(app, world["member"]).get(url).status_code == 404
    assert client.get(url).status_code == 200
    edit = client.get(url + "/edit")
    response = client.post(url + "/publish", data={"csrf_token": csrf_token(edit)})
    assert response.status_code == 302
    db.session.refresh(update)
    assert update.status is UpdateStatus.PUBLISHED
    assert client_for(app, world["member"]).get(url).status_code == 200
    again = client.post(url + "/publish", data={"csrf_token": csrf_token(edit)},
                        follow_redirects=True)
    assert "published already" in again.get_data(as_text=True)
    assert actions() == ["update.create", "update.publish"]


def test_public_updates_take_no_comments_even_when_asked(app, world):
    client = client_for(app, world["organiser"])
    post_new(client, "/hubs/updates-hub/updates/new", audience="public", publish="y")
    assert only_update().allow_comments is False


def test_fields_posted_beside_the_form_change_nothing(app, world):
    client = client_for(app, world["organiser"])
    other = world["other_hub"]
    post_new(client, "/hubs/updates-hub/updates/new", hub_id=str(other.id),
             status="published", author_id=str(world["admin"].id))
    update = only_update()
    assert update.hub_id == world["hub"].id and update.status is UpdateStatus.DRAFT
    assert update.author_id == world["organiser"].id


def test_each_edit_keeps_a_revision_listed_on_the_edit_page(app, world):
    update = make_update(world["hub"], title_en="First", author_id=world["organiser"].id)
    client = client_for(app, world["organiser"])
    url = f"/updates/{update.public_id}/edit"
    for title in ("Second", "Third"):
        response = client.post(url, data={"csrf_token": csrf_token(client.get(url)),
                                          **form_data(title_en=title)})
        assert response.status_code == 302
    revisions = list(db.session.scalars(
        select(UpdateRevision).order_by(UpdateRevision.id)))
    assert [r.title_en for r in revisions] == ["First", "Second"]
    assert all(r.editor_id == world["organiser"].id and r.edited_at for r in revisions)
    db.session.refresh(update)
    assert update.title_en == "Third"
    html = client.get(url).get_data(as_text=True)
    assert "Edit history" in html and html.count("Olive Organiser") >= 2
    assert actions() == ["update.edit", "update.edit"]


def test_a_deleted_editor_and_author_are_shown_as_deleted_member(app, world):
    world["hub"].show_authors = True
    update = make_update(world["hub"], author_id=None)
    db.session.add(UpdateRevision(update_id=update.id, editor_id=None, title_en="Old"))
    db.session.flush()
    html = client_for(app).get(f"/updates/{update.public_id}").get_data(as_text=True)
    assert "deleted member" in html
    edit = client_for(app, world["organiser"]).get(f"/updates/{update.public_id}/edit")
    assert "deleted member" in edit.get_data(as_text=True)


def test_coordinators_and_admins_post_for_their_chapter(app, world):
    for role in ("coordinator", "admin"):
        client = client_for(app, world[role])
        response = post_new(client, "/chapters/up/updates/new", audience="public",
                            publish="y", title_en=f"From the {role}")
        assert response.status_code == 302, role
    updates = list(db.session.scalars(select(Update)))
    assert {u.chapter_id for u in updates} == {world["chapter"].id}
    assert all(u.hub_id is None for u in updates)
    page = client_for(app).get(f"/updates/{updates[0].public_id}")
    assert page.status_code == 200


@pytest.mark.parametrize("role", [None, "member", "organiser", "outsider"])
def test_chapter_posting_is_404_to_everyone_else(app, world, role):
    client = client_for(app, world[role] if role else None)
    response = client.get("/chapters/up/updates/new")
    expected = 302 if role is None else 404
    assert response.status_code == expected
    assert client.get("/chapters/nope/updates/new").status_code == expected


def test_staff_without_two_factor_are_sent_to_set_it_up(app, world):
    client = client_for(app, world["organiser_no_2fa"])
    response = client.get("/hubs/updates-hub/updates/new")
    assert response.status_code == 302 and "two-factor" in response.headers["Location"]


@pytest.mark.parametrize("role", ["member", "outsider", "other_organiser", "pending"])
def test_editing_and_publishing_are_404_to_non_organisers(app, world, role):
    update = make_update(world["hub"], status=UpdateStatus.DRAFT)
    client = client_for(app, world[role])
    url = f"/updates/{update.public_id}"
    token = csrf_token(client.get("/"))
    assert client.get(url + "/edit").status_code == 404
    assert client.post(url + "/edit", data={"csrf_token": token, **form_data()}
                       ).status_code == 404
    assert client.post(url + "/publish", data={"csrf_token": token}).status_code == 404
    db.session.refresh(update)
    assert update.status is UpdateStatus.DRAFT


# --- reading ---------------------------------------------------------------------


@pytest.mark.parametrize(("audience", "status", "expected"), [
    ("public", "published", {None: 200, "outsider": 200, "pending": 200, "member": 200,
                             "other_organiser": 200, "organiser": 200, "coordinator": 200,
                             "admin": 200}),
    ("members", "published", {None: 404, "outsider": 404, "pending": 404, "member": 200,
                              "other_organiser": 404, "organiser": 200, "coordinator": 200,
                              "admin": 200}),
    ("members", "draft", {None: 404, "outsider": 404, "pending": 404, "member": 404,
                          "other_organiser": 404, "organiser": 200, "coordinator": 200,
                          "admin": 200}),
])
def test_who_may_read_an_update(app, world, audience, status, expected):
    update = make_update(world["hub"], audience=UpdateAudience(audience),
                         status=UpdateStatus(status))
    for role, code in expected.items():
        client = client_for(app, world[role] if role else None)
        response = client.get(f"/updates/{update.public_id}")
        assert response.status_code == code, role
        if code == 404:
            missing = client.get("/updates/AAAAAAAAAAAAAAAAAAAAAA")
            assert same_page(response, missing)


def test_updates_of_an_unlisted_hub_are_404_to_outsiders(app, world):
    hub = make_hub(world["chapter"], "hidden-hub", visibility=HubVisibility.UNLISTED)
    update = make_update(hub)
    assert client_for(app).get(f"/updates/{update.public_id}").status_code == 404


def test_chapter_members_only_update_is_for_members_of_its_hubs(app, world):
    update = make_update(chapter=world["chapter"], audience=UpdateAudience.MEMBERS)
    url = f"/updates/{update.public_id}"
    assert client_for(app, world["member"]).get(url).status_code == 200
    assert client_for(app, world["coordinator"]).get(url).status_code == 200
    assert client_for(app, world["pending"]).get(url).status_code == 404
    assert client_for(app).get(url).status_code == 404


@pytest.mark.parametrize("garbage", ["x", "A" * 33, "%00", "' OR 1=1 --", "..%2f..",
                                     "ａｂｃ", "<script>"])
def test_garbage_ids_are_404(app, world, garbage):
    client = client_for(app, world["organiser"])
    token = csrf_token(client.get("/"))
    assert client.get(f"/updates/{garbage}").status_code == 404
    assert client.get(f"/updates/{garbage}/edit").status_code == 404
    assert client.post(f"/updates/{garbage}/publish",
                       data={"csrf_token": token}).status_code == 404


# --- bad input -------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "message"), [
    ({"title_en": "", "title_zh": ""}, "title in at least one language"),
    ({"body_en": "", "body_zh": "   "}, "at least one language"),
    ({"title_en": "x" * 201}, "at most 200"),
    ({"title_zh": "字" * 201}, "at most 200"),
    ({"body_en": "x" * 20_001}, "at most 20000"),
    ({"title_en": "two\nlines"}, "one line"),
    ({"body_en": "bell\x07"}, "control characters"),
    ({"audience": "everyone"}, "Choose one of the options"),
])
def test_bad_update_input_is_refused_on_the_form(app, world, overrides, message):
    client = client_for(app, world["organiser"])
    response = post_new(client, "/hubs/updates-hub/updates/new", **overrides)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalars(select(Update)).first() is None


def test_one_language_is_enough(app, world):
    client = client_for(app, world["organiser"])
    response = post_new(client, "/hubs/updates-hub/updates/new", title_en="", body_en="",
                        publish="y")
    assert response.status_code == 302
    assert only_update().title_zh == "野餐消息"


def test_missing_csrf_is_400(app, world):
    client = client_for(app, world["organiser"])
    update = make_update(world["hub"], status=UpdateStatus.DRAFT)
    assert client.post("/hubs/updates-hub/updates/new", data=form_data()).status_code == 400
    assert client.post(f"/updates/{update.public_id}/edit", data=form_data()
                       ).status_code == 400
    assert client.post(f"/updates/{update.public_id}/publish").status_code == 400
    db.session.refresh(update)
    assert update.status is UpdateStatus.DRAFT


# --- XSS corpus (R32, R33) -------------------------------------------------------


@pytest.mark.parametrize("payload", XSS)
def test_payloads_in_every_update_field_never_reach_the_page_as_markup(app, world, payload):
    client = client_for(app, world["organiser"])
    one_line_payload = payload.replace("\n", " ")
    response = post_new(client, "/hubs/updates-hub/updates/new", publish="y",
                        title_en=one_line_payload, title_zh=one_line_payload,
                        body_en=payload, body_zh=payload)
    assert response.status_code == 302
    update = only_update()
    assert update.body_en == payload  # stored as written; sanitised when shown
    for url in (f"/updates/{update.public_id}", f"/updates/{update.public_id}/edit",
                "/hubs/updates-hub"):
        page = client.get(url)
        assert page.status_code == 200
        assert_nothing_executable(page.get_data(as_text=True))
    member_view = client_for(app, world["member"]).get(f"/updates/{update.public_id}")
    assert_nothing_executable(member_view.get_data(as_text=True))


def test_safe_markdown_links_survive_with_rel(app, world):
    update = make_update(world["hub"], body_en="[site](https://example.org/)")
    html = client_for(app).get(f"/updates/{update.public_id}").get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    link = soup.find("a", href="https://example.org/")
    assert link is not None and "noopener" in link["rel"] and "noreferrer" in link["rel"]
