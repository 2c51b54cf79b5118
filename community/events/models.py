"""Events and RSVPs."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.database import Base, created_at, enum_type, intpk, public_id, updated_at
from community.encryption import EncryptedText

if TYPE_CHECKING:
    from community.auth.models import User
    from community.hubs.models import Hub


class EventMode(enum.Enum):
    IN_PERSON = "in_person"
    ONLINE = "online"
    HYBRID = "hybrid"


class Tier(enum.Enum):
    """Who may see a location or link (DESIGN §2 rule 2)."""

    PUBLIC = "public"
    MEMBERS = "members"
    ATTENDEES = "attendees"


class Audience(enum.Enum):
    PUBLIC = "public"
    MEMBERS = "members"
    INVITE = "invite"


class EventStatus(enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class RsvpStatus(enum.Enum):
    GOING = "going"
    WAITLISTED = "waitlisted"
    PENDING = "pending"
    DECLINED = "declined"


class Event(Base):
    """A gathering of a hub. Times are stored in UTC with the IANA zone the
    organiser entered them in, so they stay right across daylight saving."""

    __tablename__ = "events"
    __table_args__ = (
        sa.CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_non_negative"),
        sa.CheckConstraint("max_guests >= 0", name="max_guests_non_negative"),
        # Site-wide and chapter listings: upcoming events by start time (issue 14: the
        # id breaks ties in the same order; ends_at, hub_id, mode and languages ride
        # along so skipping ended events, filtering and counting the first 1,000 read
        # the index only).
        sa.Index("ix_events_listing", "status", "audience", "starts_at", "id", "ends_at",
                 "hub_id", "mode", "languages"),
        # A hub's upcoming events.
        sa.Index("ix_events_hub_listing", "hub_id", "status", "starts_at"),
        # A hub's public events by start time, cancelled ones too (hub calendars).
        sa.Index("ix_events_hub_calendar", "hub_id", "audience", "starts_at", "id", "status"),
        # Public events, most recently announced first (Atom feeds).
        sa.Index("ix_events_announced", "status", "audience", "published_at", "id"),
        # The newest change to any event: the stamp cached public pages are keyed on.
        sa.Index("ix_events_updated_at", "updated_at"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    hub_id: Mapped[int] = mapped_column(sa.ForeignKey("hubs.id", ondelete="CASCADE"))
    title_en: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    title_zh: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    # Markdown source; rendered and sanitised by community.markdown.
    description_en: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    description_zh: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(sa.String(64))
    mode: Mapped[EventMode] = mapped_column(
        enum_type(EventMode, "event_mode"), default=EventMode.IN_PERSON
    )
    # Venue, address and online link are encrypted whatever their tier (R40):
    # a superset of "when not public", and no column changes meaning with a tier.
    venue: Mapped[str] = mapped_column(EncryptedText("events.venue"), default="",
                                       server_default="")
    # Hidden addresses will be encrypted at rest (R40); never filter on this column.
    address: Mapped[str] = mapped_column(EncryptedText("events.address"), default="",
                                         server_default="")
    location_visibility: Mapped[Tier] = mapped_column(
        enum_type(Tier, "location_tier"), default=Tier.PUBLIC
    )
    online_url: Mapped[str] = mapped_column(EncryptedText("events.online_url"), default="",
                                            server_default="")
    online_visibility: Mapped[Tier] = mapped_column(
        enum_type(Tier, "online_tier"), default=Tier.ATTENDEES
    )
    location_reveal_at: Mapped[datetime | None]
    audience: Mapped[Audience] = mapped_column(
        enum_type(Audience, "event_audience"), default=Audience.PUBLIC
    )
    capacity: Mapped[int | None]
    max_guests: Mapped[int] = mapped_column(default=0, server_default="0")
    waitlist_enabled: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    rsvp_approval: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    rsvp_opens_at: Mapped[datetime | None]
    rsvp_closes_at: Mapped[datetime | None]
    hide_attendee_count: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    status: Mapped[EventStatus] = mapped_column(
        enum_type(EventStatus, "event_status"), default=EventStatus.DRAFT
    )
    cancel_message: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # Space-separated language tags such as "yue en".
    languages: Mapped[str] = mapped_column(sa.String(100), default="", server_default="")
    # Occurrences of one recurring series share a series id and keep the rule.
    series_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    recurrence_rule: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    published_at: Mapped[datetime | None]
    # Burn after the event: BURN_GRACE_PERIOD after ends_at its RSVPs, check-ins
    # and attendee mail are deleted; the counts stay as plain numbers.
    burn_after: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    burned_at: Mapped[datetime | None]
    final_going_count: Mapped[int | None]
    final_checked_in_count: Mapped[int | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    hub: Mapped[Hub] = relationship(back_populates="events")
    rsvps: Mapped[list[Rsvp]] = relationship(
        back_populates="event", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def language_tags(self) -> list[str]:
        return self.languages.split()


# Upcoming lists show events that have not ended and began at most this long ago.
# The bound lets the listing indexes (by start time) seek straight to the first
# upcoming event instead of reading past every event that has ever ended; an
# event running for longer than this leaves the lists (its page, the calendars
# and members' own lists keep it).
LISTED_AFTER_START = timedelta(days=31)


def upcoming_clause(now: datetime):
    """SQL: the event has not ended at ``now`` and began at most LISTED_AFTER_START before."""
    try:
        earliest = now - LISTED_AFTER_START
    except OverflowError:  # a "from" date in year 1
        earliest = datetime.min.replace(tzinfo=now.tzinfo)
    return (Event.ends_at >= now) & (Event.starts_at >= earliest)


class Rsvp(Base):
    """One person's answer to one event. Withdrawing deletes the row; a row
    whose user_id is null has been anonymised and only counts (DESIGN §2 rule 6)."""

    __tablename__ = "rsvps"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "user_id"),
        sa.CheckConstraint("guests >= 0", name="guests_non_negative"),
        # Counting seats and picking the first waitlisted person.
        sa.Index("ix_rsvps_event_status", "event_id", "status", "created_at"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[RsvpStatus] = mapped_column(enum_type(RsvpStatus, "rsvp_status"))
    guests: Mapped[int] = mapped_column(default=0, server_default="0")
    note: Mapped[str] = mapped_column(EncryptedText("rsvps.note"), default="", server_default="")
    checked_in_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    event: Mapped[Event] = relationship(back_populates="rsvps")
    user: Mapped[User | None] = relationship()
