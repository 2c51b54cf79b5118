"""GET /healthz and the JSON-lines log (DESIGN.md §7, R37, R45)."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

import community
from community import create_app
from community.database import utcnow
from community.extensions import db
from community.logs import HANDLER_NAME
from tests.conftest import base_config

ADDRESS = "203.0.113.77"
TOKEN = "tok3nSecretMarker"  # noqa: S105 (test data)


def _migrated_app(tmp_path, **extra):
    from flask_migrate import upgrade

    app = create_app(base_config(f"sqlite:///{tmp_path / 'health.sqlite'}") | extra)
    with app.app_context():
        upgrade()
    return app


@pytest.mark.no_db
def test_healthz_is_200_with_version_and_oldest_mail_age_and_no_cookie(tmp_path):
    from community.outbox_models import OutboxEmail

    app = _migrated_app(tmp_path)
    with app.app_context():
        db.session.add(OutboxEmail(to_address="someone@example.org", subject="s", body_text="b",
                                   created_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    response = app.test_client().get("/healthz", environ_base={"REMOTE_ADDR": ADDRESS})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"
    assert "Set-Cookie" not in response.headers
    report = response.get_json()
    assert report["status"] == "ok"
    assert report["database"] == "ok" and report["migrations"] == "current"
    assert report["version"] == community.__version__
    assert 3590 <= report["oldest_unsent_mail_seconds"] <= 3700
    assert "someone" not in response.get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()


@pytest.mark.no_db
def test_healthz_is_503_when_migrations_are_behind(tmp_path):
    from flask_migrate import stamp

    app = _migrated_app(tmp_path)
    with app.app_context():
        stamp(revision="4885f7718d32")  # the first revision, not the head
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["migrations"] == "behind"
    assert response.get_json()["status"] == "failing"
    with app.app_context():
        db.engine.dispose()


@pytest.mark.no_db
def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'missing' / 'no.sqlite'}"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
    assert "Set-Cookie" not in response.headers


def test_healthz_answers_on_the_suite_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.get_json()


def _capture(app) -> io.StringIO:
    stream = io.StringIO()
    handler = next(h for h in app.logger.handlers if h.get_name() == HANDLER_NAME)
    handler.setStream(stream)
    return stream


def _lines(stream: io.StringIO) -> list[dict]:
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]


def test_log_of_a_token_url_names_the_route_not_the_token_or_address(database_url):
    app = create_app(base_config(database_url))

    @app.after_request
    def note(response):
        app.logger.warning("answered %s", response.status_code)
        return response

    stream = _capture(app)
    response = app.test_client().get(f"/calendar/{TOKEN}.ics?key={TOKEN}",
                                     environ_base={"REMOTE_ADDR": ADDRESS})
    assert response.status_code == 404
    text = stream.getvalue()
    assert ADDRESS not in text and TOKEN not in text
    (line,) = _lines(stream)
    assert line["route"] == "/calendar/<token>.ics"
    assert line["level"] == "WARNING" and line["time"].endswith("+00:00")


def test_log_of_a_500_is_json_without_token_or_address(database_url):
    app = create_app(base_config(database_url) | {"PROPAGATE_EXCEPTIONS": False})

    @app.get("/boom/<token>")
    def boom(token):
        raise RuntimeError("failed")

    stream = _capture(app)
    response = app.test_client().get(f"/boom/{TOKEN}?next={TOKEN}",
                                     environ_base={"REMOTE_ADDR": ADDRESS})
    assert response.status_code == 500
    text = stream.getvalue()
    assert ADDRESS not in text and TOKEN not in text
    lines = _lines(stream)
    error = next(line for line in lines if line["level"] == "ERROR")
    assert error["route"] == "/boom/<token>" and error["endpoint"] == "boom"
    assert "RuntimeError" in error["exc_info"]


def test_security_events_are_json_lines_with_public_ids_only(client, db_session, app):
    from community.factories import make_user

    user = make_user("logged@example.org", password="correct horse battery staple")
    db_session.flush()
    stream = _capture(app)
    token = client.get("/sign-in").get_data(as_text=True).split('name="csrf_token" value="')[1]
    token = token.split('"')[0]
    for password in ("wrong password here", "correct horse battery staple"):
        client.post("/sign-in", data={"csrf_token": token, "email": "logged@example.org",
                                      "password": password},
                    environ_base={"REMOTE_ADDR": ADDRESS})
    text = stream.getvalue()
    assert ADDRESS not in text and "logged@example.org" not in text
    assert "correct horse" not in text
    events = [line for line in _lines(stream) if "security_event" in line]
    assert [e["security_event"] for e in events] == ["login.failure", "login.success"]
    assert all(e["actor"] == user.public_id for e in events)


def test_addresses_in_gunicorn_messages_are_redacted():
    from community.logs import json_formatter

    record = logging.LogRecord("gunicorn.error", logging.INFO, __file__, 1,
                               "Invalid request from ip=%s: %s", (ADDRESS, "bad"), None)
    line = json.loads(json_formatter().format(record))
    assert ADDRESS not in json.dumps(line)
    assert line["message"] == "Invalid request from ip=[address]: bad"


def test_healthz_counts_the_queue_backlog_without_saying_what_is_queued(app, client):
    from community.jobs import jobs

    tasks = jobs(app).tasks
    tasks["fan_out_publication"](4242)
    tasks["drain_outbox"]()
    tasks["sweep_publications"]()
    response = client.get("/healthz")
    report = response.get_json()
    assert response.status_code == 200
    assert report["queue"] == "ok"
    assert report["queue_backlog"] == 3 and report["queue_scheduled"] == 0
    assert "4242" not in response.get_data(as_text=True)
    assert "fan_out" not in response.get_data(as_text=True)


def test_healthz_reports_a_queue_that_does_not_answer(app, client, monkeypatch):
    from community.jobs import jobs

    def down():
        raise ConnectionError("redis is down")

    monkeypatch.setattr(jobs(app).huey, "pending_count", down)
    response = client.get("/healthz")
    report = response.get_json()
    # The site still serves pages (the periodic sweep catches up): reported, not fatal.
    assert response.status_code == 200
    assert report["queue"] == "unreachable" and report["queue_backlog"] is None


# --- security lines follow the commit ---------------------------------------------------

def _security_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()
            if line.strip() and "security_event" in json.loads(line)]


def test_an_audit_entry_is_logged_once_when_its_request_commits_and_never_when_it_fails(
        database_url):
    from community import audit
    from community.errors import DomainError

    app = create_app(base_config(database_url) | {"PROPAGATE_EXCEPTIONS": False})

    @app.get("/audit/<outcome>")
    def audited(outcome):
        if outcome == "refused":
            try:
                with db.session.begin_nested():  # a service's savepoint (atomic)
                    audit.record(None, "hub.settings", "hub", "refused-target")
                    raise DomainError("no")
            except DomainError:
                pass
            return "shown on the form"
        audit.record(None, "hub.settings", "hub", f"{outcome}-target")
        if outcome == "fails":
            raise RuntimeError("after the audit entry, before the commit")
        return "done"

    stream = _capture(app)
    client = app.test_client()
    assert client.get("/audit/fails").status_code == 500
    assert client.get("/audit/refused").status_code == 200
    assert [line["target_id"] for line in _security_lines(stream)] == []

    assert client.get("/audit/commits").status_code == 200
    [line] = _security_lines(stream)
    assert line["security_event"] == "hub.settings"
    assert line["target_id"] == "commits-target"
    assert line["route"] == "/audit/<outcome>"  # still inside the request
    with app.app_context():
        from community.audit_models import AuditEntry

        targets = set(db.session.scalars(
            sa.select(AuditEntry.target_id).where(AuditEntry.target_id.like("%-target"))))
        db.session.execute(sa.delete(AuditEntry).where(AuditEntry.target_id.like("%-target")))
        db.session.commit()
    assert targets == {"commits-target"}


@pytest.mark.no_db
def test_outside_a_request_the_line_follows_the_commit_too(database_url):
    from community import audit

    app = create_app(base_config(database_url))
    stream = _capture(app)
    with app.app_context():
        audit.record(None, "admin.create", "user", "cli-rolled-back")
        db.session.flush()
        db.session.rollback()
        assert _security_lines(stream) == []
        audit.record(None, "admin.create", "user", "cli-committed")
        assert _security_lines(stream) == []  # not before the commit
        db.session.commit()
        [line] = _security_lines(stream)
        assert line["target_id"] == "cli-committed"
        db.session.commit()  # a later commit does not repeat it
        assert len(_security_lines(stream)) == 1
        from community.audit_models import AuditEntry

        db.session.execute(sa.delete(AuditEntry).where(AuditEntry.target_id == "cli-committed"))
        db.session.commit()
        db.engine.dispose()


def test_a_logged_database_error_carries_no_value_of_the_statement(database_url):
    from community.auth.models import User

    app = create_app(base_config(database_url) | {"PROPAGATE_EXCEPTIONS": False})
    email, name = "duplicate.marker@example.org", "NameMarker7s3cret"

    @app.post("/twice")
    def twice():
        for _ in range(2):
            db.session.add(User(email=email, display_name=name, password_hash="x" * 20))
            db.session.flush()
        return "unreachable"

    stream = _capture(app)
    app.config["WTF_CSRF_ENABLED"] = False
    response = app.test_client().post("/twice")
    assert response.status_code == 500
    text = stream.getvalue()
    error = next(line for line in _lines(stream) if line["level"] == "ERROR")
    assert "IntegrityError" in error["exc_info"]
    assert "INSERT INTO users" in error["exc_info"]  # the statement, with placeholders
    assert email not in text and "duplicate.marker" not in text and name not in text
    with app.app_context():
        assert app.extensions["sqlalchemy"].engine.hide_parameters
        db.engine.dispose()
