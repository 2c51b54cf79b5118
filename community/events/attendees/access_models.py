"""Two organisers to open an attendee list (issue 16 item 2)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.database import Base, created_at, intpk, public_id

if TYPE_CHECKING:
    from community.auth.models import User


class ListAccessRequest(Base):
    """An organiser's request to open (or export) one event's attendee list in a
    hub that asks for two organisers. A second organiser must approve it within
    REQUEST_WINDOW; the approval then lets the requester in for ACCESS_WINDOW."""

    __tablename__ = "attendee_list_requests"
    __table_args__ = (sa.Index("ix_attendee_list_requests_event", "event_id", "created_at"),)

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    requester_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    approver_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    approved_at: Mapped[datetime | None]

    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
