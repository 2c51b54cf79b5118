"""Moderation reports."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from community.database import Base, created_at, enum_type, intpk, public_id
from community.encryption import EncryptedText


class ReportTarget(enum.Enum):
    EVENT = "event"
    UPDATE = "update"
    COMMENT = "comment"
    USER = "user"


class ReportStatus(enum.Enum):
    OPEN = "open"
    DISMISSED = "dismissed"
    ACTIONED = "actioned"


class Report(Base):
    """A member's report of content or a person, scoped to the hub or chapter
    whose moderators review it."""

    __tablename__ = "reports"
    __table_args__ = (sa.Index("ix_reports_queue", "status", "created_at"),)

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    reporter_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    target_type: Mapped[ReportTarget] = mapped_column(enum_type(ReportTarget, "report_target"))
    target_public_id: Mapped[str] = mapped_column(sa.String(32))
    hub_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("hubs.id", ondelete="CASCADE"), index=True
    )
    chapter_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("chapters.id", ondelete="CASCADE"), index=True
    )
    # The reporter's own words, which may name people: encrypted (R40).
    reason: Mapped[str] = mapped_column(EncryptedText("reports.reason"))
    status: Mapped[ReportStatus] = mapped_column(
        enum_type(ReportStatus, "report_status"), default=ReportStatus.OPEN
    )
    resolution: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    resolved_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
