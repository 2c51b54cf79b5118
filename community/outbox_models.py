"""The mail outbox's table: one row per email, written in the transaction of
the change that caused it and sent by ``community.mail``."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from community.database import Base, created_at, enum_type, intpk, utcnow


class OutboxStatus(enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxEmail(Base):
    """One email to one recipient. ``dedupe_key`` makes "one email per person
    per publication" a database guarantee rather than a hope."""

    __tablename__ = "outbox_emails"
    __table_args__ = (
        sa.Index("ix_outbox_due", "status", "next_attempt_at"),
        sa.CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )

    id: Mapped[intpk]
    # Deleting an account deletes the mail still waiting for it (R43).
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    to_address: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # Extra headers such as List-Unsubscribe, as "Name: value" lines.
    extra_headers: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_type(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    sent_at: Mapped[datetime | None]
    created_at: Mapped[created_at]


class Publication(Base):
    """A published update or event whose announcement emails are still to be
    written: one small row in the publishing transaction, then the queue's
    fan-out task writes each recipient's OutboxEmail and sets ``done_at``."""

    __tablename__ = "publications"
    __table_args__ = (
        sa.UniqueConstraint("kind", "target_id"),
        sa.Index("ix_publications_pending", "done_at", "id"),
    )

    id: Mapped[intpk]
    # "update" or "event"; target_id is that row's id.
    kind: Mapped[str] = mapped_column(sa.String(20))
    target_id: Mapped[int]
    created_at: Mapped[created_at]
    done_at: Mapped[datetime | None]
