"""Field-level encryption (R40): what is stored, what is refused, key rotation."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from community import UnsafeConfiguration, create_app, encryption
from community.admin.models import Report, ReportTarget
from community.auth.models import User
from community.auth.services import find_user
from community.encryption import EncryptedText, Keyring, UndecryptableValue, parse_data_keys
from community.events.models import Event
from community.extensions import db
from community.factories import make_event, make_hub, make_membership, make_user
from community.hubs.models import Membership
from tests.conftest import base_config


def _keyring(*ids: str) -> Keyring:
    return Keyring(parse_data_keys([f"{key_id}:{encryption.new_key()}" for key_id in ids]),
                   os.urandom(32))


def test_a_value_decrypts_only_in_its_own_column_and_untampered():
    keys = _keyring("k1")
    stored = keys.encrypt("Flat 3, 12 Hidden Road", "events.address")
    assert stored.startswith("k1:") and "Hidden" not in stored
    assert keys.decrypt(stored, "events.address") == "Flat 3, 12 Hidden Road"
    # Swapped into another column: the associated data does not match.
    with pytest.raises(UndecryptableValue):
        keys.decrypt(stored, "events.venue")
    key_id, _, encoded = stored.partition(":")
    raw = bytearray(base64.urlsafe_b64decode(encoded))
    raw[15] ^= 1
    flipped = f"{key_id}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(UndecryptableValue):
        keys.decrypt(flipped, "events.address")
    # Each encryption has its own nonce.
    assert keys.encrypt("same", "users.email") != keys.encrypt("same", "users.email")


def test_old_keys_decrypt_and_new_values_use_the_first_key():
    old = _keyring("old")
    stored = old.encrypt("secret", "users.totp_secret")
    both = Keyring([*_keyring("new").data_keys, *old.data_keys], old.index_key)
    assert both.decrypt(stored, "users.totp_secret") == "secret"
    assert both.encrypt("secret", "users.totp_secret").startswith("new:")
    with pytest.raises(UndecryptableValue):
        _keyring("other").decrypt(stored, "users.totp_secret")


def test_blind_index_ignores_case_and_spaces_and_depends_on_the_key():
    keys = _keyring("k1")
    assert keys.blind_index(" Ming@Example.org ") == keys.blind_index("ming@example.org")
    assert keys.blind_index("ming@example.org") != keys.blind_index("ling@example.org")
    assert _keyring("k1").blind_index("ming@example.org") != keys.blind_index("ming@example.org")


SHORT_KEY = "k1:" + base64.b64encode(bytes(31)).decode()


@pytest.mark.parametrize("value", ["", "k1", "k1:abc", SHORT_KEY, "bad id:x"])
def test_malformed_keys_are_refused(value):
    with pytest.raises(encryption.KeyProblem):
        parse_data_keys([value])


def test_the_database_holds_ciphertext_and_lookups_use_the_index(app):
    user = make_user("Secret.Person@example.org", totp_secret="JBSWY3DPEHPK3PXP")
    event = make_event(make_hub(), venue="The back room", address="1 Hidden Lane",
                       online_url="https://meet.example/hidden")
    db.session.flush()
    raw = db.session.execute(sa.text(
        "SELECT email, email_index, totp_secret FROM users WHERE id = :id"), {"id": user.id}).one()
    assert "Secret" not in raw.email and "JBSWY" not in raw.totp_secret
    assert raw.email.startswith(encryption.keyring().current_id + ":")
    assert len(raw.email_index) == 64
    place = db.session.execute(sa.text(
        "SELECT venue, address, online_url FROM events WHERE id = :id"), {"id": event.id}).one()
    assert not any(word in " ".join(place) for word in ("back room", "Hidden", "meet.example"))
    db.session.expire_all()
    assert find_user("secret.person@EXAMPLE.org").email == "Secret.Person@example.org"
    assert db.session.get(Event, event.id).address == "1 Hidden Lane"


def test_filtering_on_an_encrypted_column_is_refused(app):
    with pytest.raises(TypeError):
        select(User).where(User.email == "a@example.org")
    with pytest.raises(TypeError):
        select(Event).order_by(Event.venue.desc())
    assert select(User).where(User.totp_secret.is_(None)) is not None


def test_every_encrypted_column_is_text():
    assert {name: columns for name, columns in
            encryption.encrypted_columns(db.metadata).items()} == {
        "events": ["venue", "address", "online_url"],
        "memberships": ["join_answer", "organiser_notes"],
        "outbox_emails": ["to_address", "subject", "body_text", "body_html", "extra_headers"],
        "reports": ["reason"],
        "rsvps": ["note"],
        "users": ["email", "totp_secret"],
    }
    assert isinstance(User.__table__.c.email.type, EncryptedText)


# --- Where keys come from (R46) ------------------------------------------------


def test_development_makes_a_key_file_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "keys.json"
    config = base_config(f"sqlite:///{tmp_path / 'dev.sqlite'}") | {
        "HARBOUR_ENV": "development", "HARBOUR_KEY_FILE": str(path)}
    first = create_app(config).extensions[encryption.EXTENSION]
    assert path.stat().st_mode & 0o777 == 0o600
    again = create_app(config).extensions[encryption.EXTENSION]
    assert first.data_keys == again.data_keys and first.index_key == again.index_key
    assert not encryption.uses_testing_keys(first)


def test_keys_from_the_configuration_win_over_the_file(tmp_path):
    key = encryption.new_key()
    app = create_app(base_config(f"sqlite:///{tmp_path / 'c.sqlite'}") | {
        "HARBOUR_DATA_KEYS": f"a1:{key},a0:{encryption.new_key()}",
        "HARBOUR_INDEX_KEY": encryption.new_key(),
        "HARBOUR_KEY_FILE": str(tmp_path / "absent.json")})
    keys = app.extensions[encryption.EXTENSION]
    assert keys.key_ids == ["a1", "a0"] and keys.source == "configuration"


def test_testing_without_keys_uses_the_published_testing_keys(app):
    assert encryption.uses_testing_keys(app.extensions[encryption.EXTENSION])


# --- Rotation ------------------------------------------------------------------


@pytest.mark.no_db
def test_rotate_keys_is_resumable_and_old_values_stay_readable(tmp_path, monkeypatch):
    from flask_migrate import upgrade

    from community import key_rotation

    path = tmp_path / "keys.json"
    encryption.write_key_file(path, [f"first:{encryption.new_key()}"], encryption.new_key())
    app = create_app(base_config(f"sqlite:///{tmp_path / 'rotate.sqlite'}")
                     | {"HARBOUR_KEY_FILE": str(path)})
    with app.app_context():
        upgrade()
        hub = make_hub()
        for n in range(5):
            make_user(f"rotate{n}@example.org", totp_secret=f"SECRET{n}")
            make_event(hub, address=f"{n} Hidden Road",
                       starts_at=datetime(2099, 1, 1, 18, tzinfo=UTC))
        # One row each for the join answer and the report reason.
        asker = make_membership(find_user("rotate0@example.org"), hub,
                                join_answer="Through the vigil")
        db.session.add(Report(reporter_id=asker.user_id, target_type=ReportTarget.USER,
                              target_public_id="x1", hub_id=hub.id, reason="Names my sister"))
        db.session.commit()
        before = key_rotation.count_stale()
        assert before == 0

        # Start, then stop after the first batch of one row.
        new_id = key_rotation.start_file_rotation(path)
        assert encryption.keyring().current_id == new_id
        assert key_rotation.count_stale() == 12
        monkeypatch.setattr(key_rotation, "BATCH", 1)

        def interrupt(_n):
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            key_rotation.reencrypt(interrupt)
        assert key_rotation.count_stale() == 11
        # Mid-rotation, values under either key read back.
        db.session.expire_all()
        assert sorted(u.totp_secret for u in db.session.scalars(select(User))) == [
            f"SECRET{n}" for n in range(5)]

        result = app.test_cli_runner().invoke(args=["rotate-keys", "--retire"])
        assert result.exit_code == 0, result.output
        assert f"Carrying on with the rotation to key {new_id}" in result.output
        assert "Retired keys first" in result.output
        stored = json.loads(path.read_text())
        assert [entry.partition(":")[0] for entry in stored["data_keys"]] == [new_id]
        assert "rotating" not in stored
        raw = db.session.execute(sa.text("SELECT email, totp_secret FROM users")).all()
        raw += db.session.execute(sa.text(
            "SELECT join_answer FROM memberships UNION ALL SELECT reason FROM reports")).all()
        assert all(value.startswith(new_id + ":") for row in raw for value in row)
        db.session.expire_all()
        assert find_user("rotate3@example.org").totp_secret == "SECRET3"
        assert sorted(e.address for e in db.session.scalars(select(Event))) == [
            f"{n} Hidden Road" for n in range(5)]
        assert db.session.scalar(select(Membership)).join_answer == "Through the vigil"
        assert db.session.scalar(select(Report)).reason == "Names my sister"

        # A second full rotation adds another key and says the old one may go.
        again = app.test_cli_runner().invoke(args=["rotate-keys"])
        assert again.exit_code == 0, again.output
        assert "Re-encrypted 12 rows" in again.output
        assert f"old keys {new_id} may now be retired" in again.output
        db.session.remove()
        db.engine.dispose()


def test_production_refuses_missing_or_testing_keys(tmp_path, database_url):
    from tests.functional.test_security_baseline import SAFE_PRODUCTION

    absent = {"HARBOUR_DATA_KEYS": None, "HARBOUR_INDEX_KEY": None,
              "HARBOUR_KEY_FILE": str(tmp_path / "absent.json")}
    with pytest.raises(UnsafeConfiguration, match="encryption keys"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url} | SAFE_PRODUCTION | absent)
    testing = {"HARBOUR_DATA_KEYS": list(encryption.TESTING_DATA_KEYS),
               "HARBOUR_INDEX_KEY": encryption.TESTING_INDEX_KEY}
    with pytest.raises(UnsafeConfiguration, match="testing keys"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url} | SAFE_PRODUCTION | testing)
    loose = tmp_path / "keys.json"
    encryption.write_key_file(loose, [f"p1:{encryption.new_key()}"], encryption.new_key())
    loose.chmod(0o644)
    with pytest.raises(UnsafeConfiguration, match="chmod 600"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url} | SAFE_PRODUCTION
                   | absent | {"HARBOUR_KEY_FILE": str(loose)})


# --- The migration encrypts what is already there ----------------------------


from tests.unit import test_migrations  # noqa: E402

empty_database_url = test_migrations.empty_database_url


@pytest.mark.no_db
def test_the_migration_encrypts_existing_rows_and_the_downgrade_decrypts(empty_database_url):
    from flask_migrate import downgrade, upgrade

    app = create_app(base_config(empty_database_url))
    with app.app_context():
        upgrade(revision="b48df0307d37")
        now = datetime(2026, 11, 1, tzinfo=UTC)
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO users (public_id, email, password_hash, display_name, "
                "totp_secret, created_at) VALUES ('u1', 'Old.Member@example.org', 'x', 'Old', "
                "'JBSWY3DPEHPK3PXP', :now)"), {"now": now})
            conn.execute(sa.text(
                "INSERT INTO outbox_emails (to_address, subject, body_text, status, "
                "next_attempt_at, created_at) VALUES ('Old.Member@example.org', "
                "'Reminder: picnic', 'Bring tea', 'pending', :now, :now)"), {"now": now})
        upgrade()
        with db.engine.connect() as conn:
            email, index, secret = conn.execute(sa.text(
                "SELECT email, email_index, totp_secret FROM users")).one()
            to, to_index, subject = conn.execute(sa.text(
                "SELECT to_address, to_index, subject FROM outbox_emails")).one()
        assert "Old.Member" not in email and "JBSWY" not in secret
        assert "Old.Member" not in to and "picnic" not in subject
        assert index == to_index == encryption.keyring().blind_index("old.member@example.org")
        user = find_user("OLD.member@example.org")
        assert (user.email, user.totp_secret) == ("Old.Member@example.org", "JBSWY3DPEHPK3PXP")
        db.session.remove()

        downgrade(revision="b48df0307d37")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT email, totp_secret FROM users")).one() == (
                "Old.Member@example.org", "JBSWY3DPEHPK3PXP")
            assert conn.execute(sa.text("SELECT subject FROM outbox_emails")).scalar_one() == (
                "Reminder: picnic")
        db.engine.dispose()


@pytest.mark.no_db
def test_join_answers_and_report_reasons_are_encrypted_by_their_migration(empty_database_url):
    from flask_migrate import downgrade, upgrade

    app = create_app(base_config(empty_database_url))
    with app.app_context():
        upgrade(revision="9d3e61c0f2a4")
        hub, asker, quiet = make_hub(), make_user(), make_user()
        ids = {"hub": hub.id, "asker": asker.id, "quiet": quiet.id,
               "chapter": hub.chapter_id, "now": datetime(2026, 11, 1, tzinfo=UTC)}
        db.session.commit()
        with db.engine.begin() as conn:
            for n, (user, answer) in enumerate((("asker", "My uncle was at the vigil"),
                                               ("quiet", ""))):
                conn.execute(sa.text(
                    "INSERT INTO memberships (public_id, user_id, hub_id, role, status, "
                    "join_answer, created_at, updated_at) VALUES (:pid, :user, :hub, "
                    "'member', 'pending', :answer, :now, :now)"),
                    ids | {"pid": f"m{n}", "user": ids[user], "answer": answer})
            conn.execute(sa.text(
                "INSERT INTO reports (public_id, reporter_id, target_type, target_public_id, "
                "hub_id, chapter_id, reason, status, created_at) VALUES ('r1', :asker, "
                "'update', 'x1', :hub, :chapter, 'It names my neighbour', 'open', :now)"), ids)
        upgrade()
        with db.engine.connect() as conn:
            answers = conn.execute(sa.text(
                "SELECT join_answer FROM memberships ORDER BY public_id")).scalars().all()
            reason = conn.execute(sa.text("SELECT reason FROM reports")).scalar_one()
        assert "vigil" not in answers[0] and answers[1] == ""
        assert "neighbour" not in reason
        db.session.expire_all()
        assert sorted(m.join_answer for m in db.session.scalars(select(Membership))) == [
            "", "My uncle was at the vigil"]
        assert db.session.scalar(select(Report)).reason == "It names my neighbour"
        db.session.remove()

        downgrade(revision="9d3e61c0f2a4")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text(
                "SELECT join_answer FROM memberships ORDER BY public_id")).scalars().all() == [
                "My uncle was at the vigil", ""]
            assert conn.execute(sa.text("SELECT reason FROM reports")).scalar_one() == (
                "It names my neighbour")
        db.engine.dispose()
