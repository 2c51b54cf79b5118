"""Organiser rules for a hub's members: requests, removal, private notes,
roles, and the hub's audit log.

Each change checks the actor's rights again, keeps the hub's invariants
(a hub always has an active lead; organisers and leads use two-factor
authentication, R20) and writes exactly one audit entry in the caller's
transaction (DESIGN §2 rule 8). Refusals raise OrganiseError with a
translated message for the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased, joinedload

from community import audit
from community.audit_models import AuditEntry
from community.auth.models import User
from community.database import is_public_id
from community.errors import DomainError
from community.extensions import db
from community.hubs.models import Hub, MemberRole, Membership, MembershipStatus
from community.mail import InvalidRecipient, queue_templated_email
from community.pagination import Page, paginate
from community.permissions import HubAction, hub_can
from community.security import absolute_url
from community.transaction import atomic

MEMBERS_PER_PAGE = 50
AUDIT_PER_PAGE = 50
TARGET_TYPE = "membership"

NOTES_MAX_LENGTH = 2000


class OrganiseError(DomainError):
    """An organiser rule refused the request; ``message`` is translated."""


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    actor_name: str | None
    subject_name: str | None


# --- reading ---------------------------------------------------------------

def membership_in(hub: Hub, public_id: str) -> Membership | None:
    """The pending or active membership of ``hub`` with this id; None for
    anything else, including another hub's (R9) and removed members."""
    if not is_public_id(public_id):
        return None
    return db.session.scalar(
        select(Membership).options(joinedload(Membership.user))
        .where(Membership.public_id == public_id, Membership.hub_id == hub.id,
               Membership.status != MembershipStatus.REMOVED)
    )


def pending_requests(hub: Hub) -> list[Membership]:
    """Requests to join, oldest first."""
    return list(db.session.scalars(
        select(Membership).options(joinedload(Membership.user))
        .where(Membership.hub_id == hub.id, Membership.status == MembershipStatus.PENDING)
        .order_by(Membership.created_at, Membership.id)
    ))


def active_members(hub: Hub, page: int = 1, per_page: int = MEMBERS_PER_PAGE) -> Page:
    """Active members, leads first, then organisers, then by display name."""
    where = (Membership.hub_id == hub.id, Membership.status == MembershipStatus.ACTIVE)
    rank = case((Membership.role == MemberRole.LEAD, 0),
                (Membership.role == MemberRole.ORGANISER, 1), else_=2)
    return paginate(
        select(Membership).join(Membership.user).options(joinedload(Membership.user))
        .where(*where).order_by(rank, User.display_name, Membership.id),
        count=select(func.count()).select_from(Membership).where(*where),
        page=page, per_page=per_page)


def audit_actions(hub: Hub) -> list[str]:
    """Actions a filter can pick: those with words, and any in this hub's log."""
    logged = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.hub_id == hub.id).distinct())
    return sorted(set(audit.ACTION_LABELS) | set(logged))


def audit_log(hub: Hub, *, action: str = "", page: int = 1,
              per_page: int = AUDIT_PER_PAGE) -> Page:
    """The hub's audit entries, newest first, with actor and subject display
    names (None once their account is deleted)."""
    actor = aliased(User)
    subject = aliased(User)
    actor_in_hub = aliased(Membership)
    subject_in_hub = aliased(Membership)
    where = [AuditEntry.hub_id == hub.id]
    if action:
        where.append(AuditEntry.action == action)

    def shown(person, in_hub):
        # The name the person goes by in this hub (issue 16), else their display name.
        return func.coalesce(func.nullif(in_hub.hub_display_name, ""), person.display_name)

    return paginate(
        select(AuditEntry, shown(actor, actor_in_hub), shown(subject, subject_in_hub))
        .outerjoin(actor, AuditEntry.actor_id == actor.id)
        .outerjoin(actor_in_hub, (actor_in_hub.user_id == actor.id)
                   & (actor_in_hub.hub_id == hub.id))
        .outerjoin(subject, AuditEntry.subject_user_id == subject.id)
        .outerjoin(subject_in_hub, (subject_in_hub.user_id == subject.id)
                   & (subject_in_hub.hub_id == hub.id))
        .where(*where).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()),
        count=select(func.count()).select_from(AuditEntry).where(*where),
        page=page, per_page=per_page, rows=True).map(lambda row: AuditRow(*row))


# --- changing --------------------------------------------------------------

def _require(actor: User, action: HubAction, hub: Hub) -> None:
    # The routes answer 404 first; this keeps the rule true for any caller.
    if not hub_can(actor, action, hub):
        raise OrganiseError(_("You may not do that in this hub."))


def _require_active(membership: Membership) -> None:
    if membership.status is not MembershipStatus.ACTIVE:
        raise OrganiseError(_("%(name)s is not an active member of this hub.",
                              name=membership.shown_name))


def _active_lead_ids(hub_id: int) -> list[int]:
    # Locked (on PostgreSQL), so that two leads demoting each other at once
    # cannot leave the hub with none: the second waits and then counts one.
    return list(db.session.scalars(
        select(Membership.id).where(Membership.hub_id == hub_id,
                                    Membership.role == MemberRole.LEAD,
                                    Membership.status == MembershipStatus.ACTIVE)
        .order_by(Membership.id).with_for_update()
    ))


def _is_last_lead(membership: Membership) -> bool:
    return (membership.role is MemberRole.LEAD
            and _active_lead_ids(membership.hub_id) == [membership.id])


def _record(actor: User, action: str, membership: Membership, detail: str = "") -> None:
    audit.record(actor, action, TARGET_TYPE, membership.public_id, hub=membership.hub,
                 subject_user=membership.user, detail=detail)


def _email(membership: Membership, template: str, **context) -> None:
    user = membership.user
    try:
        queue_templated_email(to_address=user.email, locale=user.locale, template=template,
                              user_id=user.id, display_name=user.display_name,
                              hub=membership.hub, **context)
    except InvalidRecipient:
        # An address that can never be delivered must not block the decision.
        pass


@atomic
def approve(actor: User, membership: Membership) -> None:
    """Let a pending member in and tell them, in their language, with a link to the hub.

    Raises OrganiseError when the request was already answered, or when the
    hub asks for vouches and fewer members than it asks have vouched (issue 16).
    """
    from community.hubs.vouching.services import has_enough_vouches

    hub = membership.hub
    _require(actor, HubAction.MANAGE_MEMBERS, hub)
    if membership.status is not MembershipStatus.PENDING:
        raise OrganiseError(_("That request has already been answered."))
    if not has_enough_vouches(membership):
        raise OrganiseError(ngettext(
            "This hub needs %(num)d member to vouch for %(name)s before you can approve.",
            "This hub needs %(num)d members to vouch for %(name)s before you can approve.",
            hub.vouches_required, name=membership.shown_name))
    membership.status = MembershipStatus.ACTIVE
    _record(actor, "member.approve", membership)
    _email(membership, "membership_approved",
           hub_url=absolute_url("hubs.detail", slug=hub.slug))
    db.session.flush()


@atomic
def decline(actor: User, membership: Membership) -> None:
    """Refuse a request to join: the request is deleted, answer and all, and
    the person gets a neutral notice. Raises OrganiseError when it was
    already answered."""
    _require(actor, HubAction.MANAGE_MEMBERS, membership.hub)
    if membership.status is not MembershipStatus.PENDING:
        raise OrganiseError(_("That request has already been answered."))
    _record(actor, "member.decline", membership)
    _email(membership, "membership_declined")
    db.session.delete(membership)
    db.session.flush()


@atomic
def remove(actor: User, membership: Membership) -> None:
    """Remove an active member from the hub; they cannot join again by themselves.

    Raises OrganiseError for oneself (leaving is on the hub page), for a lead
    unless the actor is a lead, coordinator or admin, and for the hub's last lead.
    """
    hub = membership.hub
    _require(actor, HubAction.MANAGE_MEMBERS, hub)
    _require_active(membership)
    if membership.user_id == actor.id:
        raise OrganiseError(_("You cannot remove yourself here. To leave the hub, use "
                              "“Leave this hub” on the hub page."))
    if membership.role is MemberRole.LEAD:
        if not hub_can(actor, HubAction.MANAGE_ORGANISERS, hub):
            raise OrganiseError(_("Only a lead, a chapter coordinator or an admin can "
                                  "remove a lead."))
        if _is_last_lead(membership):
            raise OrganiseError(_("%(name)s is this hub's only lead. Make someone else "
                                  "lead first.", name=membership.shown_name))
    previous = membership.role
    membership.status = MembershipStatus.REMOVED
    # A removed person keeps no role anywhere, so no rule can count them as staff.
    membership.role = MemberRole.MEMBER
    _record(actor, "member.remove", membership, detail=f"role={previous.value}")
    db.session.flush()


@atomic
def set_notes(actor: User, membership: Membership, notes: str) -> None:
    """Replace the private notes about an active member (at most 2000 characters),
    shown only on the organiser page. Raises OrganiseError."""
    _require(actor, HubAction.MANAGE_MEMBERS, membership.hub)
    _require_active(membership)
    notes = (notes or "").strip()
    if len(notes) > NOTES_MAX_LENGTH:
        raise OrganiseError(_("Use at most %(max)d characters.", max=NOTES_MAX_LENGTH))
    membership.organiser_notes = notes
    # The notes themselves stay out of the log: leads read it, the notes are private.
    _record(actor, "member.notes", membership, detail="" if notes else "cleared")
    db.session.flush()


@atomic
def set_role(actor: User, membership: Membership, role: MemberRole) -> None:
    """Make an active member a member, organiser or lead (leads, coordinators, admins only).

    Raises OrganiseError for the same role, for an organiser or lead without
    two-factor authentication (R20), and for demoting the hub's last lead.
    """
    _require(actor, HubAction.MANAGE_ORGANISERS, membership.hub)
    _require_active(membership)
    name = membership.shown_name
    if membership.role is role:
        raise OrganiseError(_("%(name)s already has that role.", name=name))
    if (role in (MemberRole.ORGANISER, MemberRole.LEAD) and not membership.user.totp_secret
            and current_app.config.get("TWO_FACTOR_REQUIRED_FOR_STAFF", True)):
        raise OrganiseError(_("%(name)s must turn on two-factor authentication before they "
                              "can be an organiser or a lead. They can do it under Security "
                              "in their account.", name=name))
    if _is_last_lead(membership):
        raise OrganiseError(_("%(name)s is this hub's only lead. Make someone else "
                              "lead first.", name=name))
    previous = membership.role
    membership.role = role
    _record(actor, "member.role", membership, detail=f"{previous.value}->{role.value}")
    db.session.flush()
