"""The mail outbox's table: one row per email, written in the transaction of
the change that caused it and sent by ``community.mail``."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, validates

from community.database import Base, created_at, enum_type, intpk, utcnow
from community.encryption import EncryptedText, blind_index


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
    # Recipient, subject, bodies and headers are encrypted (R40) and blanked as
    # soon as the email is delivered (community.mail.send_pending).
    to_address: Mapped[str] = mapped_column(EncryptedText("outbox_emails.to_address"))
    # Blind index of to_address: deleting an account finds mail sent to the
    # address alone (email_index of users).
    to_index: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    subject: Mapped[str] = mapped_column(EncryptedText("outbox_emails.subject"))
    body_text: Mapped[str] = mapped_column(EncryptedText("outbox_emails.body_text"))
    body_html: Mapped[str] = mapped_column(EncryptedText("outbox_emails.body_html"),
                                           default="", server_default="")
    # Extra headers such as List-Unsubscribe (a signed link), as "Name: value" lines.
    extra_headers: Mapped[str] = mapped_column(EncryptedText("outbox_emails.extra_headers"),
                                               default="", server_default="")
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_type(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    sent_at: Mapped[datetime | None]
    created_at: Mapped[created_at]

    @validates("to_address")
    def _index_recipient(self, _key, address: str) -> str:
        self.to_index = recipient_index(address)
        return address


def recipient_index(address: str) -> str | None:
    """The blind index of a recipient's address, for finding a person's mail."""
    from email.utils import parseaddr

    return blind_index(parseaddr(address)[1]) if address else None


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
