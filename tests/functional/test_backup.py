"""`flask backup` and `flask restore`: a backup restored into an empty database
holds every row of every table (issue 12, point 6), on SQLite and, when
TEST_DATABASE_URL is set, on PostgreSQL (in scratch databases ops_backup_*)."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from community import create_app
from community.cli import seed_demo
from community.extensions import db
from tests.conftest import base_config, normalise_url

pytestmark = pytest.mark.no_db


def fingerprint(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    """Each table's row count and a checksum of its rows in primary-key order."""
    result = {}
    with engine.connect() as connection:
        metadata = sa.MetaData()
        metadata.reflect(connection)
        for name, table in sorted(metadata.tables.items()):
            order = list(table.primary_key.columns) or list(table.columns)
            digest = hashlib.sha256()
            rows = connection.execute(sa.select(table).order_by(*order)).all()
            for row in rows:
                digest.update(repr(tuple(row)).encode())
            result[name] = (len(rows), digest.hexdigest())
    return result


def seeded_app(url: str):
    app = create_app(base_config(url))
    with app.app_context():
        upgrade()
        seed_demo("demo-password-123")
        db.session.commit()
    return app


def round_trip(source_url: str, target_url: str, backup_path) -> None:
    source = seeded_app(source_url)
    with source.app_context():
        before = fingerprint(db.engine)
        assert before["events"][0] == 30 and before["users"][0] > 20
        result = source.test_cli_runner().invoke(args=["backup", str(backup_path)])
        assert result.exit_code == 0, result.output
        assert "tables" in result.output and backup_path.stat().st_size > 0
        db.engine.dispose()

    target = create_app(base_config(target_url))
    with target.app_context():
        assert fingerprint(db.engine) == {}  # truly empty: no tables at all
        result = target.test_cli_runner().invoke(args=["restore", str(backup_path)])
        assert result.exit_code == 0, result.output
        after = fingerprint(db.engine)
        assert after == before
        assert f"{sum(n for n, _ in before.values())} rows" in result.output

        # Now it holds data: a second restore needs --force.
        again = target.test_cli_runner().invoke(args=["restore", str(backup_path)])
        assert again.exit_code != 0 and "--force" in again.output
        forced = target.test_cli_runner().invoke(args=["restore", "--force", str(backup_path)])
        assert forced.exit_code == 0, forced.output
        assert fingerprint(db.engine) == before
        db.engine.dispose()


def test_sqlite_backup_restores_every_row_into_an_empty_database(tmp_path):
    round_trip(f"sqlite:///{tmp_path / 'source.sqlite'}",
               f"sqlite:///{tmp_path / 'target.sqlite'}", tmp_path / "harbour.backup")


def test_backup_refuses_to_overwrite_and_restore_refuses_other_files(tmp_path):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    existing = tmp_path / "taken"
    existing.write_text("keep me")
    with app.app_context():
        runner = app.test_cli_runner()
        result = runner.invoke(args=["backup", str(existing)])
        assert result.exit_code != 0 and "--force" in result.output
        assert existing.read_text() == "keep me"
        result = runner.invoke(args=["restore", str(existing)])
        assert result.exit_code != 0 and "not an SQLite backup" in result.output
        db.engine.dispose()


@pytest.fixture
def postgres_databases():
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore are not installed")
    server = sa.make_url(normalise_url(url))
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    names = ["ops_backup_source", "ops_backup_target"]

    def drop():
        with admin.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    drop()
    with admin.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield [server.set(database=name).render_as_string(hide_password=False) for name in names]
    drop()
    admin.dispose()


def test_postgresql_backup_restores_every_row_into_an_empty_database(postgres_databases,
                                                                     tmp_path):
    source, target = postgres_databases
    round_trip(source, target, tmp_path / "harbour.dump")
