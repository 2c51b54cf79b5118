"""Updates posted by hubs and chapters, and comments on them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.database import Base, created_at, enum_type, intpk, public_id, updated_at

if TYPE_CHECKING:
    from community.auth.models import User
    from community.hubs.models import Chapter, Hub


class UpdateAudience(enum.Enum):
    PUBLIC = "public"
    MEMBERS = "members"


class UpdateStatus(enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Update(Base):
    """A post by exactly one hub or one chapter."""

    __tablename__ = "updates"
    __table_args__ = (
        sa.CheckConstraint(
            "(hub_id IS NULL) <> (chapter_id IS NULL)", name="one_owner"
        ),
        sa.Index("ix_updates_hub_listing", "hub_id", "status", "published_at"),
        sa.Index("ix_updates_chapter_listing", "chapter_id", "status", "published_at"),
        sa.Index("ix_updates_listing", "status", "audience", "published_at"),
        # The newest change to any update: part of the cached public pages' stamp.
        sa.Index("ix_updates_updated_at", "updated_at"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    hub_id: Mapped[int | None] = mapped_column(sa.ForeignKey("hubs.id", ondelete="CASCADE"))
    chapter_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("chapters.id", ondelete="CASCADE")
    )
    # Null once the author deleted their account: shown as "deleted member".
    author_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    title_en: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    title_zh: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    body_en: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    body_zh: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    audience: Mapped[UpdateAudience] = mapped_column(
        enum_type(UpdateAudience, "update_audience"), default=UpdateAudience.PUBLIC
    )
    pinned: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    allow_comments: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    status: Mapped[UpdateStatus] = mapped_column(
        enum_type(UpdateStatus, "update_status"), default=UpdateStatus.DRAFT
    )
    published_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    hub: Mapped[Hub | None] = relationship()
    chapter: Mapped[Chapter | None] = relationship()
    author: Mapped[User | None] = relationship()
    comments: Mapped[list[Comment]] = relationship(
        back_populates="update", cascade="all, delete-orphan", passive_deletes=True
    )
    revisions: Mapped[list[UpdateRevision]] = relationship(
        back_populates="update", cascade="all, delete-orphan", passive_deletes=True,
        order_by="UpdateRevision.edited_at.desc()",
    )


class Comment(Base):
    """A member's comment on a members-only update; organisers may hide it."""

    __tablename__ = "comments"
    __table_args__ = (sa.Index("ix_comments_update_created", "update_id", "created_at"),)

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    update_id: Mapped[int] = mapped_column(sa.ForeignKey("updates.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(sa.Text)
    hidden_at: Mapped[datetime | None]
    hidden_reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    hidden_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    edited_at: Mapped[datetime | None]
    # Written by an organiser or lead of the update's hub: shown as from the hub
    # unless the hub names authors (post as the hub, issue 16). Fixed when written.
    as_hub: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[created_at]

    update: Mapped[Update] = relationship(back_populates="comments")
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])


class UpdateRevision(Base):
    """What an update said before one edit, and who made the edit (the history
    organisers see on the edit page)."""

    __tablename__ = "update_revisions"
    __table_args__ = (sa.Index("ix_update_revisions_update_edited", "update_id", "edited_at"),)

    id: Mapped[intpk]
    update_id: Mapped[int] = mapped_column(sa.ForeignKey("updates.id", ondelete="CASCADE"))
    # Null once the editor deleted their account: shown as "deleted member".
    editor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    edited_at: Mapped[created_at]
    title_en: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    title_zh: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    body_en: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    body_zh: Mapped[str] = mapped_column(sa.Text, default="", server_default="")

    update: Mapped[Update] = relationship(back_populates="revisions")
    editor: Mapped[User | None] = relationship()
