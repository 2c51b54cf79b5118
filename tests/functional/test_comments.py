"""Comments on members-only updates: posting, editing and deleting one's own,
organisers hiding with a reason, and reports of comments and updates."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from community.admin.models import Report, ReportTarget
from community.audit_models import AuditEntry
from community.extensions import db
from community.factories import make_update
from community.updates.models import Comment, UpdateAudience, UpdateStatus
from tests.conftest import csrf_token
from tests.functional.test_updates import (
    XSS,
    assert_nothing_executable,
    client_for,
    world,  # noqa: F401  (the fixture)
)


@pytest.fixture
def update(world):  # noqa: F811
    return make_update(world["hub"], audience=UpdateAudience.MEMBERS, allow_comments=True)


def add_comment(user, update, body="Count me in!") -> Comment:
    comment = Comment(update_id=update.id, author_id=user.id, body=body)
    db.session.add(comment)
    db.session.flush()
    return comment


def post(client, url: str, data: dict | None = None, page: str = "/"):
    token = csrf_token(client.get(page))
    return client.post(url, data={"csrf_token": token, **(data or {})})


def comments() -> list[Comment]:
    return list(db.session.scalars(select(Comment).order_by(Comment.id)))


def test_a_member_comments_and_it_is_shown_as_plain_text(app, world, update):  # noqa: F811
    client = client_for(app, world["member"])
    url = f"/updates/{update.public_id}"
    response = post(client, url + "/comments", {"body": "See you **there**"}, page=url)
    assert response.status_code == 302
    [comment] = comments()
    assert comment.author_id == world["member"].id and comment.body == "See you **there**"
    html = client.get(url).get_data(as_text=True)
    assert "See you **there**" in html and "Mo Member" in html


@pytest.mark.parametrize("payload", XSS)
def test_comment_payloads_are_escaped(app, world, update, payload):  # noqa: F811
    client = client_for(app, world["member"])
    url = f"/updates/{update.public_id}"
    assert post(client, url + "/comments", {"body": payload}, page=url).status_code == 302
    for viewer in ("member", "organiser"):
        page = client_for(app, world[viewer]).get(url)
        assert_nothing_executable(page.get_data(as_text=True))
    [comment] = comments()
    edit = client.get(f"/comments/{comment.public_id}/edit")
    assert_nothing_executable(edit.get_data(as_text=True))
    hide = client_for(app, world["organiser"]).get(f"/comments/{comment.public_id}/hide")
    assert_nothing_executable(hide.get_data(as_text=True))


@pytest.mark.parametrize(("audience", "allow", "message"), [
    (UpdateAudience.PUBLIC, False, "Public updates do not take comments."),
    (UpdateAudience.PUBLIC, True, "Public updates do not take comments."),
    (UpdateAudience.MEMBERS, False, "Comments are turned off for this update."),
])
def test_commenting_where_comments_are_off_is_refused(app, world, audience, allow, message):  # noqa: F811
    update = make_update(world["hub"], audience=audience, allow_comments=allow)
    client = client_for(app, world["member"])
    url = f"/updates/{update.public_id}"
    for body in ("Hello", "", "x" * 3000):
        response = post(client, url + "/comments", {"body": body}, page=url)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    assert comments() == []


def test_comments_on_a_draft_are_404_to_members(app, world):  # noqa: F811
    update = make_update(world["hub"], audience=UpdateAudience.MEMBERS, allow_comments=True,
                         status=UpdateStatus.DRAFT)
    client = client_for(app, world["member"])
    response = post(client, f"/updates/{update.public_id}/comments", {"body": "Hi"})
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["outsider", "pending", "other_organiser"])
def test_non_members_cannot_comment_or_see_comments(app, world, update, role):  # noqa: F811
    comment = add_comment(world["member"], update)
    client = client_for(app, world[role])
    assert post(client, f"/updates/{update.public_id}/comments",
                {"body": "Hi"}).status_code == 404
    for path in ("edit", "hide", "report"):
        assert client.get(f"/comments/{comment.public_id}/{path}").status_code == 404
    assert post(client, f"/comments/{comment.public_id}/delete").status_code == 404
    assert len(comments()) == 1


def test_visitors_are_sent_to_sign_in(app, update):
    client = client_for(app)
    response = post(client, f"/updates/{update.public_id}/comments", {"body": "Hi"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


@pytest.mark.parametrize(("body", "message"), [
    ("", "Write a comment first."),
    ("   \n ", "Write a comment first."),
    ("x" * 2001, "at most 2000"),
    ("bell\x07", "control characters"),
])
def test_bad_comments_are_refused_on_the_form(app, world, update, body, message):  # noqa: F811
    client = client_for(app, world["member"])
    url = f"/updates/{update.public_id}"
    response = post(client, url + "/comments", {"body": body}, page=url)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert comments() == []


def test_a_comment_of_2000_characters_with_crlf_fits(app, world, update):  # noqa: F811
    client = client_for(app, world["member"])
    body = "x" * 998 + "\r\n" + "y" * 1000
    assert post(client, f"/updates/{update.public_id}/comments",
                {"body": body}).status_code == 302


def test_members_edit_and_delete_only_their_own(app, world, update):  # noqa: F811
    mine = add_comment(world["member"], update, "Mine")
    theirs = add_comment(world["organiser"], update, "Theirs")
    client = client_for(app, world["member"])
    url = f"/comments/{mine.public_id}/edit"
    assert client.get(url).status_code == 200
    assert post(client, url, {"body": "Mine, edited"}, page=url).status_code == 302
    db.session.refresh(mine)
    assert mine.body == "Mine, edited" and mine.edited_at is not None
    assert client.get(f"/comments/{theirs.public_id}/edit").status_code == 404
    assert post(client, f"/comments/{theirs.public_id}/edit", {"body": "x"}).status_code == 404
    assert post(client, f"/comments/{theirs.public_id}/delete").status_code == 404
    assert post(client, f"/comments/{mine.public_id}/delete").status_code == 302
    assert [c.body for c in comments()] == ["Theirs"]


def test_organisers_hide_with_a_reason_the_author_sees(app, world, update):  # noqa: F811
    comment = add_comment(world["member"], update, "Something rude")
    organiser = client_for(app, world["organiser"])
    url = f"/comments/{comment.public_id}/hide"
    assert post(organiser, url, {"reason": ""}, page=url).status_code == 400
    assert post(organiser, url, {"reason": "x" * 501}, page=url).status_code == 400
    assert post(organiser, url, {"reason": "Off topic"}, page=url).status_code == 302
    db.session.refresh(comment)
    assert comment.hidden_at is not None and comment.hidden_by_id == world["organiser"].id
    assert db.session.scalars(select(AuditEntry.action)).all() == ["comment.hide"]
    page = f"/updates/{update.public_id}"
    author_view = client_for(app, world["member"]).get(page).get_data(as_text=True)
    assert "Off topic" in author_view and "Something rude" in author_view
    other = client_for(app, world["coordinator"]).get(page).get_data(as_text=True)
    assert "Hidden by the organisers." in other
    assert "Something rude" not in other and "Off topic" not in other
    # Hidden comments cannot be edited; hiding twice is refused.
    member = client_for(app, world["member"])
    edit = f"/comments/{comment.public_id}/edit"
    assert post(member, edit, {"body": "Nicer"}, page=edit).status_code == 400
    assert post(organiser, url, {"reason": "Again"}, page=url).status_code == 400


def test_members_cannot_hide(app, world, update):  # noqa: F811
    comment = add_comment(world["organiser"], update)
    client = client_for(app, world["member"])
    assert client.get(f"/comments/{comment.public_id}/hide").status_code == 404
    assert post(client, f"/comments/{comment.public_id}/hide",
                {"reason": "No"}).status_code == 404


def test_organisers_without_two_factor_must_set_it_up_to_hide(app, world, update):  # noqa: F811
    comment = add_comment(world["member"], update)
    client = client_for(app, world["organiser_no_2fa"])
    response = client.get(f"/comments/{comment.public_id}/hide")
    assert response.status_code == 302 and "two-factor" in response.headers["Location"]


def test_members_report_a_comment_and_an_update(app, world, update):  # noqa: F811
    comment = add_comment(world["organiser"], update)
    client = client_for(app, world["member"])
    comment_url = f"/comments/{comment.public_id}/report"
    update_url = f"/updates/{update.public_id}/report"
    assert client.get(comment_url).status_code == 200
    assert post(client, comment_url, {"reason": "Spam"}, page=comment_url).status_code == 302
    assert post(client, update_url, {"reason": "Wrong date"}, page=update_url
                ).status_code == 302
    reports = list(db.session.scalars(select(Report).order_by(Report.id)))
    assert [(r.target_type, r.target_public_id, r.reason) for r in reports] == [
        (ReportTarget.COMMENT, comment.public_id, "Spam"),
        (ReportTarget.UPDATE, update.public_id, "Wrong date"),
    ]
    assert all(r.reporter_id == world["member"].id and r.hub_id == world["hub"].id
               and r.chapter_id == world["chapter"].id for r in reports)


def test_a_public_update_can_be_reported_by_any_signed_in_member(app, world):  # noqa: F811
    update = make_update(chapter=world["chapter"])
    client = client_for(app, world["outsider"])
    url = f"/updates/{update.public_id}/report"
    assert post(client, url, {"reason": "Misleading"}, page=url).status_code == 302
    report = db.session.scalars(select(Report)).one()
    assert report.hub_id is None and report.chapter_id == world["chapter"].id


@pytest.mark.parametrize(("reason", "message"), [
    ("", "Tell the moderators what is wrong."),
    ("x" * 1001, "at most 1000"),
])
def test_bad_report_reasons_are_refused(app, world, update, reason, message):  # noqa: F811
    client = client_for(app, world["member"])
    url = f"/updates/{update.public_id}/report"
    response = post(client, url, {"reason": reason}, page=url)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.scalars(select(Report)).first() is None


def test_report_reasons_are_escaped(app, world, update):  # noqa: F811
    client = client_for(app, world["member"])
    url = f"/updates/{update.public_id}/report"
    response = post(client, url, {"reason": "<script>alert(1)</script>" + "x" * 1001},
                    page=url)
    assert response.status_code == 400
    assert_nothing_executable(response.get_data(as_text=True))


def test_missing_csrf_is_400(app, world, update):  # noqa: F811
    comment = add_comment(world["member"], update)
    client = client_for(app, world["member"])
    organiser = client_for(app, world["organiser"])
    assert client.post(f"/updates/{update.public_id}/comments",
                       data={"body": "Hi"}).status_code == 400
    assert client.post(f"/comments/{comment.public_id}/edit",
                       data={"body": "Hi"}).status_code == 400
    assert client.post(f"/comments/{comment.public_id}/delete").status_code == 400
    assert client.post(f"/comments/{comment.public_id}/report",
                       data={"reason": "Hi"}).status_code == 400
    assert client.post(f"/updates/{update.public_id}/report",
                       data={"reason": "Hi"}).status_code == 400
    assert organiser.post(f"/comments/{comment.public_id}/hide",
                          data={"reason": "Hi"}).status_code == 400
    assert len(comments()) == 1 and comments()[0].hidden_at is None
    assert db.session.scalars(select(Report)).first() is None


@pytest.mark.parametrize("garbage", ["x", "A" * 40, "' OR 1=1 --", "%00", "ｘ"])
def test_garbage_comment_ids_are_404(app, world, garbage):  # noqa: F811
    client = client_for(app, world["organiser"])
    for path in ("edit", "hide", "report"):
        assert client.get(f"/comments/{garbage}/{path}").status_code == 404
    for path in ("edit", "hide", "report", "delete"):
        assert post(client, f"/comments/{garbage}/{path}", {"body": "x"}).status_code == 404
    assert post(client, f"/updates/{garbage}/comments", {"body": "x"}).status_code == 404
    assert post(client, f"/updates/{garbage}/report", {"reason": "x"}).status_code == 404
