"""Vouched admission (issue 16 item 1; DESIGN §2 rule 11).

A hub may ask that N active members (1–3, set by its lead; 1 under the
high-risk preset) vouch for a request to join before an organiser may approve
it. Members see pending requests by the name the person chose, and vouch or
decline to; a decline only takes the request off that member's list, and no
page says who declined. Leads can read who vouched for whom; each reading is
audited, and so is each vouch.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from community import audit
from community.auth.models import User
from community.database import is_public_id
from community.errors import DomainError
from community.extensions import db
from community.hubs.models import Hub, Membership, MembershipStatus
from community.hubs.vouching.models import Vouch
from community.permissions import HubAction, hub_can, name_in_hub
from community.transaction import atomic

VOUCHES_RANGE = range(0, 4)


class VouchError(DomainError):
    """A vouching rule refused the answer; ``message`` is translated."""


def vouches_needed(hub: Hub) -> int:
    return hub.vouches_required or 0


def requests_to_answer(hub: Hub, user: User) -> list[Membership]:
    """Pending requests to join ``hub`` that ``user`` has not answered, oldest first;
    none when the hub does not ask for vouches."""
    if not vouches_needed(hub):
        return []
    answered = select(Vouch.membership_id).where(Vouch.voucher_id == user.id)
    return list(db.session.scalars(
        select(Membership).options(joinedload(Membership.user))
        .where(Membership.hub_id == hub.id, Membership.status == MembershipStatus.PENDING,
               Membership.user_id != user.id, Membership.id.not_in(answered))
        .order_by(Membership.created_at, Membership.id)))


def vouch_counts(hub: Hub) -> dict[int, int]:
    """Vouches (not declines) per pending request of ``hub``, by membership id."""
    return dict(db.session.execute(
        select(Vouch.membership_id, func.count()).join(Vouch.membership)
        .where(Membership.hub_id == hub.id, Membership.status == MembershipStatus.PENDING,
               Vouch.vouched.is_(True))
        .group_by(Vouch.membership_id)).all())


def has_enough_vouches(membership: Membership) -> bool:
    needed = vouches_needed(membership.hub)
    if not needed:
        return True
    given = db.session.scalar(select(func.count()).select_from(Vouch).where(
        Vouch.membership_id == membership.id, Vouch.vouched.is_(True))) or 0
    return given >= needed


@atomic
def answer(user: User, hub: Hub, membership_id: str, *, vouch: bool) -> Membership:
    """Record ``user``'s answer to one pending request of ``hub``. A vouch is
    audited (leads may know who vouched); a decline is kept only so the request
    leaves the member's list. Raises VouchError for anyone who may not vouch
    here, a request that is not pending in this hub, their own, and a second answer."""
    if not hub_can(user, HubAction.VOUCH, hub) or not vouches_needed(hub):
        raise VouchError(_("You cannot vouch in this hub."))
    membership = None
    if is_public_id(membership_id):
        membership = db.session.scalar(select(Membership).where(
            Membership.public_id == membership_id, Membership.hub_id == hub.id,
            Membership.status == MembershipStatus.PENDING))
    if membership is None or membership.user_id == user.id:
        raise VouchError(_("That request is no longer waiting."))
    if db.session.scalar(select(Vouch.id).where(Vouch.membership_id == membership.id,
                                                Vouch.voucher_id == user.id)):
        raise VouchError(_("You have already answered this request."))
    db.session.add(Vouch(membership_id=membership.id, voucher_id=user.id, vouched=vouch))
    if vouch:
        audit.record(user, "vouch.give", "membership", membership.public_id, hub=hub,
                     subject_user=membership.user)
    db.session.flush()
    return membership


@dataclass(frozen=True)
class Sponsors:
    """One person (pending or admitted) and the members who vouched for them."""

    membership: Membership
    name: str
    vouchers: list[str]


def sponsors(actor: User, hub: Hub) -> list[Sponsors]:
    """Who vouched for whom in ``hub``, newest request first, for leads; the
    reading itself is audited. Declines are never listed. Raises VouchError."""
    if not hub_can(actor, HubAction.VIEW_VOUCHES, hub):
        raise VouchError(_("You cannot see who vouched in this hub."))
    rows = db.session.execute(
        select(Membership, User).join(Vouch, Vouch.membership_id == Membership.id)
        .join(User, User.id == Vouch.voucher_id)
        .options(joinedload(Membership.user))
        .where(Membership.hub_id == hub.id, Vouch.vouched.is_(True),
               Membership.status != MembershipStatus.REMOVED)
        .order_by(Membership.created_at.desc(), Membership.id, Vouch.id)).all()
    grouped: dict[int, Sponsors] = {}
    for membership, voucher in rows:
        entry = grouped.setdefault(membership.id, Sponsors(
            membership, membership.shown_name, []))
        entry.vouchers.append(name_in_hub(voucher, hub))
    audit.record(actor, "vouches.view", "hub", hub.slug, hub=hub,
                 detail=f"people={len(grouped)}")
    db.session.flush()
    return list(grouped.values())
