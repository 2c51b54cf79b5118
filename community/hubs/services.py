"""Hub rules: the directory, chapter pages, joining and leaving."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import joinedload

from community.auth.models import User
from community.database import escape_like, utcnow
from community.errors import DomainError
from community.events.models import Event, upcoming_clause
from community.extensions import db
from community.hubs.models import (
    Chapter,
    ChapterRole,
    Hub,
    JoinPolicy,
    MemberRole,
    Membership,
    MembershipStatus,
)
from community.pagination import Page, count_of, paginate
from community.permissions import (
    event_audience_clause,
    listed_hub_clause,
    public_event_clause,
    public_update_clause,
    travelling,
    update_audience_clause,
)
from community.transaction import atomic
from community.updates.models import Update


class HubError(DomainError):
    """A hub rule refused the request; ``message`` is translated."""


def directory(query: str = "", chapter_code: str = "", page: int = 1,
              per_page: int = 20) -> Page:
    """Listed, active hubs matching a search over names and cities in both languages."""
    stmt = select(Hub).join(Hub.chapter).where(listed_hub_clause())
    query = query.strip()[:100]
    if query:
        pattern = f"%{escape_like(query.casefold())}%"
        stmt = stmt.where(or_(*(
            func.lower(column).like(pattern, escape="\\")
            for column in (Hub.name_en, Hub.name_zh, Hub.city_en, Hub.city_zh, Hub.slug)
        )))
    if chapter_code:
        stmt = stmt.where(Chapter.code == chapter_code)
    return paginate(stmt.options(joinedload(Hub.chapter)).order_by(Chapter.name_en, Hub.name_en),
                    count=count_of(stmt), page=page, per_page=per_page)


def chapters() -> list[Chapter]:
    return list(db.session.scalars(select(Chapter).order_by(Chapter.name_en)))


def chapter_by_code(code: str | None) -> Chapter | None:
    """The chapter with this code; None for anything that cannot be one (a code
    is at most 16 characters, and PostgreSQL refuses a NUL in a parameter)."""
    if not isinstance(code, str) or not code or len(code) > 16 or "\x00" in code:
        return None
    return db.session.scalar(select(Chapter).where(Chapter.code == code))


def chapter_hubs(chapter: Chapter) -> list[Hub]:
    return list(db.session.scalars(
        select(Hub).where(Hub.chapter_id == chapter.id, listed_hub_clause()).order_by(Hub.name_en)
    ))


def chapter_events(chapter: Chapter, limit: int = 10) -> list[Event]:
    return list(db.session.scalars(
        select(Event).join(Event.hub).options(joinedload(Event.hub))
        .where(Hub.chapter_id == chapter.id, public_event_clause(), upcoming_clause(utcnow()))
        .order_by(Event.starts_at, Event.id).limit(limit)
    ))


def chapter_updates(chapter: Chapter, limit: int = 10) -> list[Update]:
    """Public updates of the chapter and of its listed hubs (as its feed has them):
    the chapter's pinned ones first, then newest first."""
    own_pinned = and_(Update.chapter_id == chapter.id, Update.pinned.is_(True))
    return list(db.session.scalars(
        select(Update).outerjoin(Hub, Update.hub_id == Hub.id)
        .options(joinedload(Update.hub))
        .where(public_update_clause(), Update.published_at.is_not(None),
               or_(Update.chapter_id == chapter.id,
                   listed_hub_clause() & (Hub.chapter_id == chapter.id)))
        .order_by(case((own_pinned, 0), else_=1), Update.published_at.desc(), Update.id.desc())
        .limit(limit)
    ))


def coordinators(chapter: Chapter) -> list[str]:
    return list(db.session.scalars(
        select(User.display_name).join(ChapterRole, ChapterRole.user_id == User.id)
        .where(ChapterRole.chapter_id == chapter.id).order_by(User.display_name)
    ))


def hub_events(hub: Hub, *, members: bool, limit: int = 20) -> list[Event]:
    """Upcoming published events of a hub; members-only ones only for members."""
    return list(db.session.scalars(
        select(Event).where(Event.hub_id == hub.id, event_audience_clause(member=members),
                            upcoming_clause(utcnow()))
        .order_by(Event.starts_at, Event.id).limit(limit)
    ))


def hub_updates(hub: Hub, *, members: bool, limit: int = 10) -> list[Update]:
    return list(db.session.scalars(
        select(Update).where(Update.hub_id == hub.id, update_audience_clause(member=members))
        .order_by(Update.pinned.desc(), Update.published_at.desc()).limit(limit)
    ))


def member_count(hub: Hub) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Membership)
        .where(Membership.hub_id == hub.id, Membership.status == MembershipStatus.ACTIVE)
    ) or 0


def listed_members(hub: Hub) -> list[str]:
    """Names of active members who chose to be listed to fellow members (R6), each
    as they go by in this hub (issue 16)."""
    names = db.session.execute(
        select(Membership.hub_display_name, User.display_name)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.hub_id == hub.id, Membership.status == MembershipStatus.ACTIVE,
               Membership.listed_to_members.is_(True))
    ).all()
    return sorted((hub_name or name for hub_name, name in names), key=str.casefold)


@atomic
def join(user: User, hub: Hub, answer: str = "", *, via_invite: bool = False) -> Membership:
    """Join ``hub``: at once when open (or by invite), pending when it asks for approval.

    Raises HubError for an unverified account, a repeated join or an
    invite-only hub reached without an invite.
    """
    if not user.is_verified:
        raise HubError(_("Please confirm your email address before joining a hub."))
    existing = db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.hub_id == hub.id))
    if existing is not None and travelling(user):
        # Travel mode: answer exactly as a newcomer is answered and change nothing,
        # so pressing Join cannot show which hubs they belong to (issue 16).
        return _as_for_a_newcomer(hub, via_invite=via_invite)
    if existing is not None and existing.status is not MembershipStatus.REMOVED:
        raise HubError(_("You have already asked to join this hub."))
    if existing is not None:
        raise HubError(_("The organisers of this hub have removed you. "
                         "Write to them if you think this is a mistake."))
    status = _newcomers_status(hub, via_invite=via_invite)
    membership = Membership(user=user, hub=hub, status=status, role=MemberRole.MEMBER,
                            join_answer=answer.strip()[:1000])
    db.session.add(membership)
    db.session.flush()
    return membership


def _newcomers_status(hub: Hub, *, via_invite: bool) -> MembershipStatus:
    """The status a first join of ``hub`` gets. Raises HubError for an
    invite-only hub reached without an invite."""
    if hub.join_policy is JoinPolicy.INVITE and not via_invite:
        raise HubError(_("This hub is by invitation only. Ask an organiser for an invite link."))
    return (MembershipStatus.PENDING
            if hub.join_policy is JoinPolicy.APPROVAL and not via_invite
            else MembershipStatus.ACTIVE)


def _as_for_a_newcomer(hub: Hub, *, via_invite: bool) -> Membership:
    """What joining ``hub`` answers someone who never joined it, as a membership
    that is never saved (no user, no hub attached, not in the session)."""
    return Membership(hub_id=hub.id, status=_newcomers_status(hub, via_invite=via_invite),
                      role=MemberRole.MEMBER)


@atomic
def leave(user: User, hub: Hub) -> None:
    """Leave a hub (or withdraw a request). The last lead must hand over first."""
    membership = db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.hub_id == hub.id))
    if membership is None or membership.status is MembershipStatus.REMOVED or travelling(user):
        # In travel mode they belong to nothing, so there is nothing to leave (issue 16).
        raise HubError(_("You are not a member of this hub."))
    if membership.role is MemberRole.LEAD and membership.status is MembershipStatus.ACTIVE:
        leads = db.session.scalar(
            select(func.count()).select_from(Membership).where(
                Membership.hub_id == hub.id, Membership.role == MemberRole.LEAD,
                Membership.status == MembershipStatus.ACTIVE))
        if leads <= 1:
            raise HubError(_("You are this hub's only lead. Make someone else lead first."))
    db.session.delete(membership)
    db.session.flush()


def set_listing(membership: Membership, listed: bool) -> None:
    membership.listed_to_members = listed
