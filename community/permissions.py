"""One answer to "may this user do this to that?" (DESIGN §2 rule 10).

Every view asks here. What a user may not see answers 404, so private hubs
and events do not reveal that they exist (R8).
"""

from __future__ import annotations

import enum

from flask import abort
from sqlalchemy import select

from community.extensions import db
from community.hubs.models import (
    Chapter,
    ChapterRole,
    Hub,
    HubStatus,
    HubVisibility,
    MemberRole,
    Membership,
    MembershipStatus,
)


class HubAction(enum.Enum):
    VIEW = "view"                      # see the hub page
    VIEW_MEMBERS_AREA = "members_area"  # members-only updates, events and list
    JOIN = "join"
    MANAGE_MEMBERS = "manage_members"  # approve, remove, notes, invites
    MANAGE_ORGANISERS = "manage_organisers"  # promote and demote
    EDIT = "edit"                      # hub settings, high-risk preset
    VIEW_AUDIT = "view_audit"
    DECIDE_REGISTRATION = "decide_registration"


def membership_of(user, hub: Hub) -> Membership | None:
    if user is None or not user.is_authenticated:
        return None
    return db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.hub_id == hub.id)
    )


def is_coordinator(user, chapter: Chapter | int) -> bool:
    if user is None or not user.is_authenticated:
        return False
    chapter_id = chapter if isinstance(chapter, int) else chapter.id
    return db.session.scalar(
        select(ChapterRole.id).where(ChapterRole.user_id == user.id,
                                     ChapterRole.chapter_id == chapter_id).limit(1)
    ) is not None


def is_admin(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_site_admin)


def hub_can(user, action: HubAction, hub: Hub, membership: Membership | None = None) -> bool:
    """Whether ``user`` (anonymous allowed) may do ``action`` to ``hub``.

    Pass the user's membership when it is already loaded to save a query.
    """
    if membership is None:
        membership = membership_of(user, hub)
    active = membership is not None and membership.status is MembershipStatus.ACTIVE
    role = membership.role if active else None
    overseer = is_admin(user) or is_coordinator(user, hub.chapter_id)

    if action is HubAction.DECIDE_REGISTRATION:
        return overseer and hub.status is HubStatus.PENDING
    if action is HubAction.VIEW:
        if hub.status is HubStatus.ACTIVE:
            # Unlisted hubs are 404 to everyone but their members (R4, R5).
            return hub.visibility is HubVisibility.LISTED or active or overseer
        if hub.status is HubStatus.PENDING:
            return overseer or (user is not None and user.is_authenticated
                                and hub.proposed_by_id == user.id)
        return overseer or role is MemberRole.LEAD
    if hub.status is not HubStatus.ACTIVE:
        return action in (HubAction.VIEW_AUDIT, HubAction.EDIT) and (
            overseer or role is MemberRole.LEAD)
    if action is HubAction.VIEW_MEMBERS_AREA:
        return active or overseer
    if action is HubAction.JOIN:
        return (user is not None and user.is_authenticated and membership is None
                and hub_can(user, HubAction.VIEW, hub, membership))
    if action is HubAction.MANAGE_MEMBERS:
        return role in (MemberRole.ORGANISER, MemberRole.LEAD) or overseer
    if action in (HubAction.MANAGE_ORGANISERS, HubAction.EDIT, HubAction.VIEW_AUDIT):
        return role is MemberRole.LEAD or overseer
    return False


def hub_or_404(
    slug: str, user, action: HubAction = HubAction.VIEW
) -> tuple[Hub, Membership | None]:
    """The hub with this slug if ``user`` may do ``action`` to it; otherwise 404 (R8)."""
    hub = db.session.scalar(select(Hub).where(Hub.slug == slug))
    if hub is None:
        abort(404)
    membership = membership_of(user, hub)
    if not hub_can(user, action, hub, membership):
        abort(404)
    return hub, membership
