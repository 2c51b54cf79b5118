"""The mail outbox: every email is a row written in the same transaction as
the change that caused it, then sent by `flask --app wsgi send-mail`."""

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


def _clean_header(value: str) -> str:
    """Header values never carry CR or LF (R44: no header injection)."""
    return " ".join(value.splitlines()).strip()


def queue_email(
    session,
    *,
    to_address: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    user_id: int | None = None,
    dedupe_key: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> OutboxEmail:
    """Add an email to the outbox in the caller's transaction and flush it.

    Raises nothing of its own; a duplicate ``dedupe_key`` surfaces as an
    IntegrityError at flush, which callers that may repeat should check first.
    """
    headers = "\n".join(
        f"{_clean_header(k)}: {_clean_header(v)}" for k, v in (extra_headers or {}).items()
    )
    email = OutboxEmail(
        user_id=user_id,
        to_address=_clean_header(to_address),
        subject=_clean_header(subject),
        body_text=body_text,
        body_html=body_html,
        dedupe_key=dedupe_key,
        extra_headers=headers,
    )
    session.add(email)
    session.flush()
    return email
