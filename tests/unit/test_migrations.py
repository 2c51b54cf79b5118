"""Migrations: empty database -> head equals the models; head -> base is clean.

Runs on SQLite, and on PostgreSQL in a database of its own when
TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from community import create_app
from community.extensions import db
from tests.conftest import base_config, normalise_url, postgres_database

pytestmark = pytest.mark.no_db


@pytest.fixture
def empty_database_url(tmp_path):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    # Named after the test database, so suites on two databases never collide.
    name = f"{sa.engine.make_url(normalise_url(url)).database}_migrations"
    yield normalise_url(postgres_database(url, name))
    postgres_database(url, name, drop=True)


def test_upgrade_from_empty_matches_the_models_and_downgrade_is_clean(empty_database_url):
    app = create_app(base_config(empty_database_url))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "render_as_batch": True}
            )
            differences = compare_metadata(context, db.metadata)
            tables = set(sa.inspect(conn).get_table_names())
        assert differences == []
        assert {t.name for t in db.metadata.sorted_tables} <= tables

        downgrade(revision="base")
        with db.engine.connect() as conn:
            left = set(sa.inspect(conn).get_table_names())
        assert left <= {"alembic_version"}
        db.engine.dispose()
