"""Chapters, hubs, who belongs to them and in which role, and invites."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from community.database import Base, created_at, enum_type, intpk, public_id, updated_at
from community.encryption import EncryptedText

if TYPE_CHECKING:
    from community.auth.models import User
    from community.events.models import Event


class HubVisibility(enum.Enum):
    LISTED = "listed"
    UNLISTED = "unlisted"


class JoinPolicy(enum.Enum):
    OPEN = "open"
    APPROVAL = "approval"
    INVITE = "invite"


class HubStatus(enum.Enum):
    PENDING = "pending"
    ACTIVE = "active"
    ARCHIVED = "archived"
    DECLINED = "declined"


class CountDisplay(enum.Enum):
    """How attendee counts are shown to people who are not organisers."""

    EXACT = "exact"
    RANGE = "range"
    HIDDEN = "hidden"


class MemberRole(enum.Enum):
    MEMBER = "member"
    ORGANISER = "organiser"
    LEAD = "lead"


class MembershipStatus(enum.Enum):
    PENDING = "pending"
    ACTIVE = "active"
    REMOVED = "removed"


class ChapterRoleKind(enum.Enum):
    COORDINATOR = "coordinator"


class Chapter(Base):
    """A country-level organisation, addressed by its code (``uk``)."""

    __tablename__ = "chapters"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    name_en: Mapped[str] = mapped_column(sa.String(100))
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    default_timezone: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[created_at]

    hubs: WriteOnlyMapped[Hub] = relationship(back_populates="chapter", passive_deletes=True)
    roles: Mapped[list[ChapterRole]] = relationship(
        back_populates="chapter", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def slug(self) -> str:
        return self.code


class Hub(Base):
    """A city or regional group. The protection switches default to the safe
    choices when the high-risk preset is on (DESIGN §2 rule 1)."""

    __tablename__ = "hubs"
    __table_args__ = (
        sa.Index("ix_hubs_directory", "status", "visibility", "chapter_id"),
        sa.CheckConstraint("vouches_required BETWEEN 0 AND 3", name="vouches_required_range"),
    )

    id: Mapped[intpk]
    chapter_id: Mapped[int] = mapped_column(
        sa.ForeignKey("chapters.id", ondelete="RESTRICT"), index=True
    )
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name_en: Mapped[str] = mapped_column(sa.String(100))
    name_zh: Mapped[str] = mapped_column(sa.String(100), default="", server_default="")
    description_en: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    description_zh: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    city_en: Mapped[str] = mapped_column(sa.String(100), default="", server_default="")
    city_zh: Mapped[str] = mapped_column(sa.String(100), default="", server_default="")
    timezone: Mapped[str] = mapped_column(sa.String(64))
    visibility: Mapped[HubVisibility] = mapped_column(
        enum_type(HubVisibility, "hub_visibility"), default=HubVisibility.LISTED
    )
    join_policy: Mapped[JoinPolicy] = mapped_column(
        enum_type(JoinPolicy, "join_policy"), default=JoinPolicy.OPEN
    )
    status: Mapped[HubStatus] = mapped_column(
        enum_type(HubStatus, "hub_status"), default=HubStatus.PENDING
    )
    join_question: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    high_risk: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    rsvp_approval_default: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    attendee_count_display: Mapped[CountDisplay] = mapped_column(
        enum_type(CountDisplay, "count_display"), default=CountDisplay.EXACT
    )
    keep_checkin_records: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    noindex: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    allow_comments: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # Updates name the organiser who wrote them only when the hub chooses so: a name
    # on every post singles organisers out (DESIGN §2 rule 11). Off by default.
    show_authors: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Vouched admission (issue 16): how many active members must vouch for a request
    # to join before organisers may approve it; 0 turns it off.
    vouches_required: Mapped[int] = mapped_column(default=0, server_default="0")
    # Two organisers to open an attendee list (issue 16): one asks, another agrees.
    attendee_list_two_keys: Mapped[bool] = mapped_column(default=False,
                                                         server_default=sa.false())
    decline_reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    proposed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    chapter: Mapped[Chapter] = relationship(back_populates="hubs")
    memberships: WriteOnlyMapped[Membership] = relationship(
        back_populates="hub", passive_deletes=True
    )
    events: WriteOnlyMapped[Event] = relationship(back_populates="hub", passive_deletes=True)


class Membership(Base):
    """A user in a hub, with a role; pending until approved where the hub asks."""

    __tablename__ = "memberships"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "hub_id"),
        sa.Index("ix_memberships_hub_status", "hub_id", "status"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    hub_id: Mapped[int] = mapped_column(sa.ForeignKey("hubs.id", ondelete="CASCADE"))
    role: Mapped[MemberRole] = mapped_column(
        enum_type(MemberRole, "member_role"), default=MemberRole.MEMBER
    )
    status: Mapped[MembershipStatus] = mapped_column(
        enum_type(MembershipStatus, "membership_status"), default=MembershipStatus.PENDING
    )
    # The answer to the hub's join question (at most 1000 characters, the join
    # form's limit): it can say why someone came, so it is encrypted (R40).
    join_answer: Mapped[str] = mapped_column(EncryptedText("memberships.join_answer"),
                                             default="", server_default="")
    # Private to the hub's organisers; encrypted (R40).
    organiser_notes: Mapped[str] = mapped_column(EncryptedText("memberships.organiser_notes"),
                                                 default="", server_default="")
    # The member agreed to be listed to fellow members of this hub (R6).
    listed_to_members: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The name this member goes by in this hub only, so nobody links one person
    # across hubs by name (issue 16); empty: their account's display name.
    hub_display_name: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    user: Mapped[User] = relationship(back_populates="memberships", foreign_keys=[user_id])
    hub: Mapped[Hub] = relationship(back_populates="memberships")

    @property
    def shown_name(self) -> str:
        """The name everyone else in the hub sees for this member."""
        return self.hub_display_name or self.user.display_name


class ChapterRole(Base):
    """A chapter-wide role: today only coordinator."""

    __tablename__ = "chapter_roles"
    __table_args__ = (sa.UniqueConstraint("user_id", "chapter_id", "role"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    chapter_id: Mapped[int] = mapped_column(
        sa.ForeignKey("chapters.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[ChapterRoleKind] = mapped_column(
        enum_type(ChapterRoleKind, "chapter_role_kind"), default=ChapterRoleKind.COORDINATOR
    )
    created_at: Mapped[created_at]

    user: Mapped[User] = relationship(back_populates="chapter_roles")
    chapter: Mapped[Chapter] = relationship(back_populates="roles")


class Invite(Base):
    """An invite link for an invite-only hub or event. Only the token's SHA-256
    is stored, so a leaked database does not hand out working links."""

    __tablename__ = "invites"
    __table_args__ = (
        sa.CheckConstraint(
            "(hub_id IS NOT NULL) OR (event_id IS NOT NULL)", name="has_target"
        ),
        sa.CheckConstraint("max_uses IS NULL OR max_uses > 0", name="max_uses_positive"),
        sa.CheckConstraint("use_count >= 0", name="use_count_non_negative"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    hub_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("hubs.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime | None]
    max_uses: Mapped[int | None]
    use_count: Mapped[int] = mapped_column(default=0, server_default="0")
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
