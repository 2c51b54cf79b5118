"""community.audit.record: one entry in the caller's transaction, one line, no IP (R37, R45)."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from community import audit
from community.audit_models import AuditEntry
from community.extensions import db
from community.factories import make_chapter, make_hub, make_user


def stored() -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_record_adds_one_entry_with_the_hubs_chapter():
    hub = make_hub(make_chapter("au1"))
    actor, subject = make_user(), make_user()
    entry = audit.record(actor, "member.approve", "membership", "m-123", hub=hub,
                         subject_user=subject, detail="first")
    assert entry in db.session.new  # added, not yet flushed: it goes with the caller's change
    db.session.flush()
    (row,) = stored()
    assert (row.actor_id, row.action, row.target_type, row.target_id) == (
        actor.id, "member.approve", "membership", "m-123")
    assert (row.hub_id, row.chapter_id, row.subject_user_id) == (hub.id, hub.chapter_id,
                                                                 subject.id)
    assert row.detail == "first" and row.actor_pseudonym == "" and row.created_at is not None


def test_an_explicit_chapter_and_no_actor():
    chapter = make_chapter("au2")
    audit.record(None, "chapter.update", "chapter", chapter.code, chapter=chapter)
    audit.record(None, "chapter.update", "chapter", chapter.code, chapter=chapter.id)
    db.session.flush()
    rows = stored()
    assert [(r.actor_id, r.hub_id, r.chapter_id) for r in rows] == [(None, None, chapter.id)] * 2


def test_an_anonymous_user_is_recorded_as_no_one(app):
    from flask_login import AnonymousUserMixin

    audit.record(AnonymousUserMixin(), "report.create", "report", "r1",
                 subject_user=AnonymousUserMixin())
    db.session.flush()
    (row,) = stored()
    assert row.actor_id is None and row.subject_user_id is None


def test_r45_line_breaks_in_detail_stay_on_one_line():
    audit.record(None, "member.notes", "membership", "m1", detail="Mallory\nFAKE entry\r\n")
    db.session.flush()
    (row,) = stored()
    assert row.detail == "Mallory\\nFAKE entry\\r\\n"
    assert "\n" not in row.detail and "\r" not in row.detail


@pytest.mark.parametrize("raw,escaped", [
    ("tab\there", "tab\\there"),
    ("nul\x00byte", "nul\\u0000byte"),
    ("bell\x07", "bell\\u0007"),
    ("line\u2028sep", "line\\u2028sep"),
    ("para\u2029sep", "para\\u2029sep"),
    ("next\x85line", "next\\u0085line"),
    ("back\\nslash", "back\\\\nslash"),  # a typed "\n" cannot pass for an escaped line break
    ("香港 ok", "香港 ok"),
    ("", ""),
])
def test_control_characters_are_escaped(raw, escaped):
    assert audit.escape_detail(raw) == escaped


def test_detail_is_cut_to_the_column_without_splitting_an_escape():
    assert len(audit.escape_detail("x" * 800)) == 500
    assert audit.escape_detail("x" * 498 + "\n") == "x" * 498 + "\\n"
    assert audit.escape_detail("x" * 499 + "\n") == "x" * 499  # no half escape
    audit.record(None, "member.notes", "membership", "m1", detail="\n" * 400)
    db.session.flush()
    (row,) = stored()
    assert row.detail == "\\n" * 250


@pytest.mark.parametrize("field,value", [
    ("action", ""), ("action", "a" * 65), ("action", "member.\napprove"),
    ("target_type", "t" * 33), ("target_id", "i" * 65), ("target_id", ""),
    ("target_id", "id\r\nFAKE"),
])
def test_record_refuses_malformed_codes(field, value):
    arguments = {"action": "member.approve", "target_type": "membership", "target_id": "m1"}
    arguments[field] = value
    with pytest.raises(ValueError):
        audit.record(None, **arguments)
    assert not db.session.new


def test_the_entry_rolls_back_with_the_change_it_belongs_to():
    outer = db.session.begin_nested()
    audit.record(None, "member.remove", "membership", "m1")
    db.session.flush()
    outer.rollback()
    assert stored() == []


def test_r37_record_never_stores_the_remote_address(app):
    hub = make_hub(make_chapter("au3"))
    actor = make_user()
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "203.0.113.77"}):
        audit.record(actor, "member.remove", "membership", "m1", hub=hub, subject_user=actor,
                     detail="removed")
        db.session.flush()
    (row,) = stored()
    values = [str(getattr(row, column.key)) for column in AuditEntry.__table__.columns]
    assert not any("203.0.113.77" in value for value in values)


def test_describe_gives_words_in_the_current_language(app):
    with app.test_request_context():
        assert audit.describe("member.approve") == "Approved a request to join"
        assert audit.describe("something.new") == "something.new"
        with force_locale("zh_Hant_HK"):
            assert isinstance(audit.describe("member.approve"), str)
