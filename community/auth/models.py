"""Accounts: the user, their server-side sessions and 2FA recovery codes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from community.database import Base, created_at, intpk, public_id
from community.encryption import EncryptedText, blind_index

if TYPE_CHECKING:
    from community.hubs.models import ChapterRole, Membership


class User(Base):
    """A person with an account. Only what R38 allows is held: no real name,
    phone, birth date or location; the email is private to the user."""

    __tablename__ = "users"

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    # Normalised (trimmed, lower-cased domain) before it is stored; never shown
    # to others; encrypted (R40). Looked up through email_index, never by value.
    email: Mapped[str] = mapped_column(EncryptedText("users.email"))
    # HMAC-SHA256 of the lower-cased address under the index key: sign-in,
    # uniqueness and the admin's search by exact address. Set with ``email``.
    email_index: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    display_name: Mapped[str] = mapped_column(sa.String(64))
    locale: Mapped[str] = mapped_column(sa.String(16), default="en", server_default="en")
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC", server_default="UTC")
    # How English dates are written (en_GB, en_AU, en_CA, en_US); "" follows the browser.
    date_format: Mapped[str] = mapped_column(sa.String(8), default="", server_default="")
    email_verified_at: Mapped[datetime | None]
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText("users.totp_secret"))
    # The last accepted TOTP time step, so a code cannot be replayed (R18).
    totp_last_timecode: Mapped[int | None] = mapped_column(sa.BigInteger)
    is_site_admin: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    disabled_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    # A newer reset request makes older reset links useless (R16).
    reset_requested_at: Mapped[datetime | None]
    notify_events: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    notify_updates: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    notify_reminders: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    notify_waitlist: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    weekly_digest: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Hash of the secret in the personal calendar URL; null when none was issued.
    calendar_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    # Travel mode (issue 16): while set, the member's own screens show no hubs,
    # answers or calendar, other devices are signed out and no email is sent.
    travel_mode_since: Mapped[datetime | None]
    created_at: Mapped[created_at]

    sessions: Mapped[list[UserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        passive_deletes=True,
        foreign_keys="Membership.user_id",
    )
    chapter_roles: Mapped[list[ChapterRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @validates("email")
    def _index_email(self, _key, email: str) -> str:
        self.email_index = blind_index(email)
        return email

    # Flask-Login protocol; get_id is provided by the session layer.
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    def get_id(self) -> str:
        return self.public_id


class UserSession(Base):
    """A signed-in browser (R22): the cookie holds a random 256-bit id; only its
    SHA-256 is stored, with a device label and days, never an IP address."""

    __tablename__ = "user_sessions"

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    device_label: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[created_at]
    last_seen_at: Mapped[datetime]
    # When the password or second factor was last confirmed in this session (R20).
    reauthenticated_at: Mapped[datetime | None]
    remember: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    user: Mapped[User] = relationship(back_populates="sessions")


class RecoveryCode(Base):
    """A single-use 2FA recovery code (R19): "sha256$<hex>" of an 80-bit code, or,
    for codes issued before issue 15, the Argon2id hash of a 40-bit one."""

    __tablename__ = "recovery_codes"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(255))
    used_at: Mapped[datetime | None]
    created_at: Mapped[created_at]

    user: Mapped[User] = relationship(back_populates="recovery_codes")
