"""What the member area shows: a member's hubs, RSVPs and the news of their hubs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload

from community.auth.models import User
from community.database import utcnow
from community.events.models import Event, EventStatus, Rsvp
from community.extensions import db
from community.hubs.models import Hub, HubStatus, Membership, MembershipStatus
from community.updates.models import Update, UpdateStatus


def my_hubs(user: User) -> list[Membership]:
    """Active and pending memberships of hubs that are not archived, by hub name."""
    return list(db.session.scalars(
        select(Membership)
        .join(Membership.hub)
        .options(contains_eager(Membership.hub).joinedload(Hub.chapter))
        .where(Membership.user_id == user.id,
               Membership.status.in_([MembershipStatus.ACTIVE, MembershipStatus.PENDING]),
               Hub.status == HubStatus.ACTIVE)
        .order_by(Hub.name_en)
    ))


def my_upcoming_rsvps(user: User, limit: int = 20) -> list[Rsvp]:
    return list(db.session.scalars(
        select(Rsvp)
        .join(Rsvp.event)
        .options(contains_eager(Rsvp.event).joinedload(Event.hub))
        .where(Rsvp.user_id == user.id, Event.ends_at >= utcnow(),
               Event.status != EventStatus.DRAFT)
        .order_by(Event.starts_at)
        .limit(limit)
    ))


def latest_updates_for(user: User, limit: int = 10) -> list[Update]:
    """Published updates of hubs where the user is an active member, newest first."""
    hub_ids = select(Membership.hub_id).where(
        Membership.user_id == user.id, Membership.status == MembershipStatus.ACTIVE
    )
    return list(db.session.scalars(
        select(Update)
        .options(joinedload(Update.hub))
        .where(Update.hub_id.in_(hub_ids), Update.status == UpdateStatus.PUBLISHED)
        .order_by(Update.published_at.desc())
        .limit(limit)
    ))
