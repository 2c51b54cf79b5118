"""Who may check tickets at the door of an event (DESIGN §1, door staff)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.database import Base, created_at, intpk, public_id

if TYPE_CHECKING:
    from community.auth.models import User
    from community.events.models import Event


class DoorStaff(Base):
    """A member assigned to check tickets at one event. The assignment grants
    nothing once the event has ended (permissions.door_staff_active): the
    event's own end is the expiry, so moving the event moves it too."""

    __tablename__ = "door_staff"
    __table_args__ = (sa.UniqueConstraint("event_id", "user_id"),)

    id: Mapped[intpk]
    public_id: Mapped[public_id]
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    assigned_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]

    event: Mapped[Event] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
