"""A member's answer to someone's request to join their hub (issue 16 item 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.database import Base, created_at, intpk

if TYPE_CHECKING:
    from community.auth.models import User
    from community.hubs.models import Membership


class Vouch(Base):
    """One member's answer to one request to join: ``vouched`` when they vouch,
    false when they decline to. Declines only keep the request off that member's
    list; no page shows who declined, not even to leads."""

    __tablename__ = "vouches"
    __table_args__ = (sa.UniqueConstraint("membership_id", "voucher_id"),)

    id: Mapped[intpk]
    # The request (a membership, pending until approved); gone with it.
    membership_id: Mapped[int] = mapped_column(
        sa.ForeignKey("memberships.id", ondelete="CASCADE"), index=True)
    voucher_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    vouched: Mapped[bool]
    created_at: Mapped[created_at]

    membership: Mapped[Membership] = relationship()
    voucher: Mapped[User] = relationship()
