"""Shared building blocks for the typed models: the declarative base with a
naming convention, UTC timestamps and random public identifiers."""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, mapped_column, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def new_public_id() -> str:
    """A URL identifier with 128 random bits (R7): 22 URL-safe characters."""
    return secrets.token_urlsafe(16)


# What new_public_id (and the other token_urlsafe ids) can produce, within the
# columns' 32 characters.
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")


def is_public_id(value) -> bool:
    """Whether ``value`` could be a public id. Check before querying: anything
    else cannot match a row, and must not reach the database (PostgreSQL
    refuses a NUL in a parameter)."""
    return isinstance(value, str) and PUBLIC_ID.match(value) is not None


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards escaped, for ``.like(..., escape="\\")``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class UTCDateTime(TypeDecorator):
    """A timezone-aware timestamp that is always UTC in Python.

    SQLite keeps no offset, so values are normalised to UTC on the way in and
    marked as UTC on the way out; naive datetimes are refused rather than guessed.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC one is required")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_type(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint holding its values."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


intpk = Annotated[int, mapped_column(primary_key=True)]
public_id = Annotated[
    str, mapped_column(sa.String(32), unique=True, default=new_public_id, nullable=False)
]
created_at = Annotated[datetime, mapped_column(UTCDateTime(), default=utcnow, nullable=False)]
updated_at = Annotated[
    datetime, mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)
]
str64 = Annotated[str, mapped_column(sa.String(64))]
str200 = Annotated[str, mapped_column(sa.String(200))]


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )

    def __repr__(self) -> str:
        key = getattr(self, "slug", None) or getattr(self, "public_id", None) or getattr(
            self, "id", None
        )
        return f"<{type(self).__name__} {key}>"


def scrub_after_purge(engine: sa.Engine, tables: Iterable[str] = ()) -> bool:
    """After a purge has committed, leave no readable copy of what it removed.

    SQLite (with ``secure_delete`` on, set on every connection) has zeroed the
    freed space in the database file once the WAL is checkpointed; a
    TRUNCATE checkpoint writes the WAL back and empties it, so the old page
    images in it are gone too. It cannot finish while another connection
    reads; the next purge tries again. PostgreSQL: ``VACUUM`` the purged
    tables (outside a transaction) so dead row versions are removed; see the
    README for what it keeps (WAL, backups). Returns whether it completed."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            busy, _log, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            cursor.close()
        finally:
            raw.close()
        return busy == 0
    if engine.dialect.name == "postgresql":
        names = sorted(set(tables))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in names:
                conn.exec_driver_sql(f'VACUUM "{name}"')  # noqa: S608 (our table names)
        return True
    return False


def render_migration_item(type_, obj, autogen_context):
    """Write UTCDateTime columns into migrations as plain timezone-aware DateTime,
    and encrypted columns as the Text they are stored in."""
    from community.encryption import EncryptedText

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, EncryptedText):
        return "sa.Text()"
    return False
