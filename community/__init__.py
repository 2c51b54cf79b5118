"""Harbour: a community directory and events platform."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import Flask

from community.config import DEFAULTS, PROJECT_ROOT, production_problems
from community.transaction import TransactionalFlask, sqlite_begin

# The one place the version is written: setup.cfg reads it, the admin footer shows it.
__version__ = "0.2.0.dev0"


class UnsafeConfiguration(RuntimeError):
    """Raised when the production configuration would put people at risk (R46)."""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: defaults, then the instance folder, then
    ``FLASK_*`` environment variables, then ``config`` (tests).

    Raises UnsafeConfiguration when production settings are unsafe.
    """
    app = TransactionalFlask(
        __name__,
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder="static",
    )
    from community.security import make_request_class

    app.request_class = make_request_class()
    load_config(app, config)
    from community import logs

    logs.configure(app)
    from community import transaction

    transaction.init_app(app)
    trust_proxies(app)
    register_extensions(app)
    register_blueprints(app)
    register_hooks(app)

    from community import backup, cli, jobs, key_rotation, mail, notifications, retention
    from community.events import burn, reminders

    jobs.init_app(app)
    cli.init_app(app)
    backup.init_cli(app)
    key_rotation.init_cli(app)
    mail.init_cli(app)
    notifications.init_cli(app)
    reminders.init_cli(app)
    burn.init_app(app)
    retention.init_cli(app)
    return app


def load_config(app: Flask, config: Mapping[str, Any] | None) -> None:
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    if config:
        app.config.from_mapping(config)

    env = app.config["HARBOUR_ENV"]
    if env == "development" and not app.config.get("TRUSTED_HOSTS"):
        app.config["TRUSTED_HOSTS"] = ["127.0.0.1", "localhost"]
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "harbour.sqlite")
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    # A logged database error never carries the statement's values (emails,
    # tokens): SQLAlchemy leaves them out of its messages. Not configurable.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}), "hide_parameters": True}
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    # psycopg 3 is our PostgreSQL driver; accept the plain URL form too.
    for prefix in ("postgres://", "postgresql://"):
        if uri.startswith(prefix):
            app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri[len(prefix):]

    problems = production_problems(app.config) if env == "production" else []
    load_keys(app, problems)
    if problems:
        raise UnsafeConfiguration(
            "Harbour will not start in production: " + "; ".join(problems)
        )


def load_keys(app: Flask, problems: list[str]) -> None:
    """Load the field-encryption keys (R40) onto the app. In production, missing,
    malformed or published testing keys are problems; elsewhere missing keys
    stop the start at once."""
    from community import encryption

    try:
        keyring = encryption.load_keyring(app)
    except (encryption.KeyProblem, OSError, ValueError) as exc:
        if app.config["HARBOUR_ENV"] != "production":
            raise UnsafeConfiguration(f"Harbour has no usable encryption keys: {exc}") from exc
        problems.append(f"encryption keys: {exc}")
        return
    if app.config["HARBOUR_ENV"] == "production" and encryption.uses_testing_keys(keyring):
        problems.append("the encryption keys must not be the published testing keys")
    app.extensions[encryption.EXTENSION] = keyring


def trust_proxies(app: Flask) -> None:
    """Believe ``TRUSTED_PROXY_HOPS`` reverse proxies, and no more.

    With N hops, the client address is the Nth value from the right of
    X-Forwarded-For (the one our own proxy wrote) and the scheme comes from
    X-Forwarded-Proto, so rate-limit keys, ``request.is_secure`` (Secure
    cookies) and external URLs follow the real client. With 0 (the default)
    the headers are ignored: a client cannot choose its own address.
    """
    hops = app.config.get("TRUSTED_PROXY_HOPS") or 0
    if isinstance(hops, bool) or not isinstance(hops, int) or not 0 <= hops <= 5:
        raise UnsafeConfiguration("TRUSTED_PROXY_HOPS must be a whole number from 0 to 5")
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy emit BEGIN itself so SAVEPOINTs work (SQLAlchemy's
    # documented pysqlite fix), and turn on foreign keys and WAL.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten with zeros, not left in free pages (issue 13).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def register_extensions(app: Flask) -> None:
    from community import i18n, models  # noqa: F401  (registers every table)
    from community.extensions import babel, cache, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    login_manager.init_app(app)
    i18n.init_app(app)
    cache.init_app(app)
    from sqlalchemy.orm import Session

    from community import pagecache

    if not sa.event.contains(Session, "before_flush", pagecache.forget_stamp):
        sa.event.listen(Session, "before_flush", pagecache.forget_stamp)

    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            sa.event.listen(engine, "begin", sqlite_begin)


def register_blueprints(app: Flask) -> None:
    """Every URL the app answers, one blueprint per area or sub-area, in the
    order a reader looks for them."""
    from community.admin.routes import bp as admin
    from community.auth import sessions  # noqa: F401  (registers the session loader)
    from community.auth.routes import bp as auth
    from community.events.attendees.routes import bp as attendees
    from community.events.door.routes import bp as door
    from community.events.invites.routes import bp as event_invites
    from community.events.manage.routes import bp as manage
    from community.events.routes import bp as events
    from community.feeds_routes import bp as feeds
    from community.health import bp as health
    from community.hubs.moderation.routes import bp as moderation
    from community.hubs.organise.routes import bp as organise
    from community.hubs.registration.routes import bp as registration
    from community.hubs.routes import bp as hubs
    from community.hubs.settings.routes import bp as hub_settings
    from community.hubs.vouching.routes import bp as vouching
    from community.main.routes import bp as main
    from community.members.routes import bp as members
    from community.members.transparency.routes import bp as transparency
    from community.members.travel.routes import bp as travel
    from community.notifications import bp as notifications
    from community.updates.routes import bp as updates

    for blueprint in (
        main, auth, members, transparency, travel,
        hubs, registration, organise, hub_settings, moderation, vouching,
        events, manage, attendees, door, event_invites,
        updates, feeds, notifications, health,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(admin, url_prefix="/admin")


def register_hooks(app: Flask) -> None:
    from community.security import apply_security_headers

    app.after_request(apply_security_headers)

    @app.url_value_preprocessor
    def refuse_nul_in_paths(_endpoint, values):
        # PostgreSQL refuses NUL in text; such a path names nothing (404, not 500).
        from flask import abort

        if values and any("\x00" in str(value) for value in values.values()):
            abort(404)
