"""The reports queue (issue 7 item 2): dismiss, hide, warn, disable; each
recorded once, and the reporter told the outcome without names."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from community.admin.models import Report, ReportStatus, ReportTarget
from community.audit_models import AuditEntry
from community.events.models import EventStatus
from community.extensions import db
from community.factories import make_chapter, make_event, make_hub, make_update, make_user
from community.updates.models import Comment, UpdateStatus
from tests.conftest import csrf_token, login_as, outbox


@pytest.fixture
def setup(app):
    hub = make_hub(make_chapter("md"), "moderated")
    admin = make_user(display_name="Mod Admin", is_site_admin=True,
                      totp_secret=pyotp.random_base32())
    author = make_user("author@mod.example", display_name="Loud Author")
    reporter = make_user("reporter@mod.example", display_name="Careful Reporter")
    client = login_as(app.test_client(), admin)
    return {"hub": hub, "admin": admin, "author": author, "reporter": reporter,
            "client": client}


def report_on(setup, target_type: ReportTarget, public_id: str) -> Report:
    report = Report(target_type=target_type, target_public_id=public_id,
                    hub_id=setup["hub"].id, chapter_id=setup["hub"].chapter_id,
                    reporter_id=setup["reporter"].id, reason="Rude and off-topic")
    db.session.add(report)
    db.session.flush()
    return report


def decide(setup, report: Report, action: str, reason: str = "Against the rules"):
    client = setup["client"]
    page = client.get("/admin/reports")
    return client.post(f"/admin/reports/{report.public_id}", data={
        "csrf_token": csrf_token(page), f"{report.public_id}-action": action,
        f"{report.public_id}-reason": reason})


def one_entry() -> AuditEntry:
    (entry,) = db.session.scalars(select(AuditEntry))
    return entry


def test_queue_shows_what_who_and_why(setup):
    update = make_update(setup["hub"], title_en="Shouty update", author_id=setup["author"].id)
    report_on(setup, ReportTarget.UPDATE, update.public_id)
    html = setup["client"].get("/admin/reports").get_data(as_text=True)
    assert "Shouty update" in html
    assert "Careful Reporter" in html  # moderators see who reported
    assert "Loud Author" in html
    assert "Rude and off-topic" in html


def test_dismiss_records_and_tells_the_reporter_neutrally(setup):
    update = make_update(setup["hub"], author_id=setup["author"].id)
    report = report_on(setup, ReportTarget.UPDATE, update.public_id)
    assert decide(setup, report, "dismiss").status_code == 302
    db.session.refresh(report)
    assert report.status is ReportStatus.DISMISSED
    assert report.resolved_by_id == setup["admin"].id and report.resolved_at is not None
    assert "Against the rules" in report.resolution
    entry = one_entry()
    assert (entry.action, entry.actor_id, entry.target_id) == (
        "report.dismiss", setup["admin"].id, report.public_id)
    (mail,) = outbox("reporter@mod.example")
    for name in ("Mod Admin", "Loud Author", "Careful Reporter"):
        assert name not in mail.body_text.replace("Hello Careful Reporter", "")
    assert outbox("author@mod.example") == []


def test_hide_a_comment_and_an_update(setup):
    update = make_update(setup["hub"], author_id=setup["author"].id)
    comment = Comment(update_id=update.id, author_id=setup["author"].id, body="nasty")
    db.session.add(comment)
    db.session.flush()
    report = report_on(setup, ReportTarget.COMMENT, comment.public_id)
    assert decide(setup, report, "hide", "Personal attack").status_code == 302
    db.session.refresh(comment)
    assert comment.hidden_at is not None and comment.hidden_reason == "Personal attack"
    assert comment.hidden_by_id == setup["admin"].id
    db.session.refresh(report)
    assert report.status is ReportStatus.ACTIONED
    assert one_entry().action == "report.hide"

    report = report_on(setup, ReportTarget.UPDATE, update.public_id)
    assert decide(setup, report, "hide").status_code == 302
    db.session.refresh(update)
    assert update.status is UpdateStatus.DRAFT


def test_hide_an_event_unpublishes_it(setup):
    event = make_event(setup["hub"], created_by_id=setup["author"].id)
    report = report_on(setup, ReportTarget.EVENT, event.public_id)
    assert decide(setup, report, "hide").status_code == 302
    db.session.refresh(event)
    assert event.status is EventStatus.DRAFT


def test_warn_emails_the_author_and_not_the_reporters_name(setup):
    update = make_update(setup["hub"], author_id=setup["author"].id)
    report = report_on(setup, ReportTarget.UPDATE, update.public_id)
    assert decide(setup, report, "warn", "Please stay civil").status_code == 302
    (warning,) = outbox("author@mod.example")
    assert "Please stay civil" in warning.body_text
    assert "Careful Reporter" not in warning.body_text + warning.body_html
    entry = one_entry()
    assert (entry.action, entry.subject_user_id) == ("report.warn", setup["author"].id)
    assert len(outbox("reporter@mod.example")) == 1


def test_disable_the_author(setup):
    report = report_on(setup, ReportTarget.USER, setup["author"].public_id)
    assert decide(setup, report, "disable").status_code == 302
    db.session.refresh(setup["author"])
    assert setup["author"].disabled_at is not None
    entry = one_entry()
    assert (entry.action, entry.actor_id, entry.subject_user_id) == (
        "report.disable", setup["admin"].id, setup["author"].id)


def test_bad_decisions_are_refused_without_500(setup):
    report = report_on(setup, ReportTarget.USER, setup["author"].public_id)
    assert decide(setup, report, "explode").status_code == 400
    assert decide(setup, report, "dismiss", "").status_code == 400
    assert decide(setup, report, "hide").status_code == 400  # a person cannot be hidden
    db.session.refresh(report)
    assert report.status is ReportStatus.OPEN
    assert db.session.scalars(select(AuditEntry)).all() == []


def test_a_decided_report_cannot_be_decided_again(setup):
    report = report_on(setup, ReportTarget.USER, setup["author"].public_id)
    assert decide(setup, report, "dismiss").status_code == 302
    assert decide(setup, report, "disable").status_code == 404
