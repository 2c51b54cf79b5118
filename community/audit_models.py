"""The audit trail's table; entries are written only through ``community.audit.record``."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from community.database import Base, created_at, intpk


class AuditEntry(Base):
    """Who did what to which record, and when — never an IP address (R37).
    Entries are append-only: the app offers no edit or delete."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        sa.Index("ix_audit_hub_created", "hub_id", "created_at"),
        sa.Index("ix_audit_chapter_created", "chapter_id", "created_at"),
    )

    id: Mapped[intpk]
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # A random pseudonym that survives the actor's account deletion (R43).
    actor_pseudonym: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    target_type: Mapped[str] = mapped_column(sa.String(32))
    target_id: Mapped[str] = mapped_column(sa.String(64))
    # The person the action was about, for "who looked at my RSVPs".
    subject_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    hub_id: Mapped[int | None] = mapped_column(sa.ForeignKey("hubs.id", ondelete="SET NULL"))
    chapter_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("chapters.id", ondelete="SET NULL")
    )
    detail: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    created_at: Mapped[created_at] = mapped_column(index=True)
