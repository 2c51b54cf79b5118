"""Hub registration rules: a member proposes a hub, a chapter coordinator (or a
site admin) approves or declines it.

Each function works in the caller's transaction and flushes; the route commits
once. Emails and audit entries are written in that same transaction (STYLE 4).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select

from community import audit
from community.auth.models import User
from community.errors import DomainError
from community.extensions import db
from community.hubs.models import (
    Chapter,
    Hub,
    HubStatus,
    HubVisibility,
    JoinPolicy,
    MemberRole,
    Membership,
    MembershipStatus,
)
from community.i18n import supported_locale, valid_timezone
from community.mail import queue_templated_email
from community.permissions import HubAction, hub_can
from community.security import absolute_url
from community.transaction import atomic

SLUG_MIN_LENGTH = 3
SLUG_MAX_LENGTH = 64
# Starts and ends with a letter or digit, so no address looks like "-" or "a--".
SLUG_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")
# /hubs/register is a page of its own: a hub there could never be reached.
RESERVED_SLUGS = frozenset({"register"})
# Keeps one account from flooding a chapter's queue.
MAX_PENDING_PER_PROPOSER = 3
DECLINE_REASON_MAX = 500


class RegistrationError(DomainError):
    """A registration rule refused the request. ``message`` is translated;
    ``field`` names the form field it belongs beside, if any."""


@dataclass(frozen=True)
class PendingHub:
    """A hub waiting for a decision, with its proposer's display name (never
    their email) or None when the account is gone."""

    hub: Hub
    proposer_name: str | None


def is_valid_slug(slug: str) -> bool:
    """Whether ``slug`` has the shape of a hub's web address (not whether it is free)."""
    return (SLUG_MIN_LENGTH <= len(slug) <= SLUG_MAX_LENGTH
            and SLUG_PATTERN.match(slug) is not None)


def suggest_slug(name: str) -> str:
    """A web address made from ``name``: its Latin letters and digits joined by
    hyphens, at most 64 characters. May be too short to use (even empty) when
    the name has few Latin letters; callers check with is_valid_slug."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:SLUG_MAX_LENGTH].rstrip("-")


def slug_taken(slug: str) -> bool:
    """Whether a hub (in any state) already has this address, or it is reserved."""
    if slug in RESERVED_SLUGS:
        return True
    return db.session.scalar(select(Hub.id).where(Hub.slug == slug).limit(1)) is not None


def _free_slug(base: str) -> str:
    """``base``, else ``base-2``, ``base-3``, … the first address no hub uses."""
    if not slug_taken(base):
        return base
    for number in range(2, 21):
        suffix = f"-{number}"
        candidate = base[:SLUG_MAX_LENGTH - len(suffix)].rstrip("-") + suffix
        if not slug_taken(candidate):
            return candidate
    suffix = "-" + secrets.token_hex(4)
    return base[:SLUG_MAX_LENGTH - len(suffix)].rstrip("-") + suffix


def pending_count(user: User) -> int:
    """How many of ``user``'s proposals are waiting for a decision."""
    return db.session.scalar(
        select(func.count()).select_from(Hub)
        .where(Hub.proposed_by_id == user.id, Hub.status == HubStatus.PENDING)
    ) or 0


def register_hub(
    proposer: User,
    chapter_code: str,
    *,
    name_en: str,
    name_zh: str = "",
    description_en: str = "",
    description_zh: str = "",
    city_en: str = "",
    city_zh: str = "",
    timezone: str = "",
    join_policy: JoinPolicy = JoinPolicy.APPROVAL,
    join_question: str = "",
    visibility: HubVisibility = HubVisibility.LISTED,
    slug: str = "",
) -> Hub:
    """Propose a hub in the chapter with ``chapter_code``; it waits as PENDING,
    proposed by ``proposer``, for a coordinator. An empty ``timezone`` means
    the chapter's; an empty ``slug`` is made from ``name_en``.

    Raises RegistrationError (naming the field) for an unverified proposer,
    too many proposals already waiting, an unknown chapter, an empty English
    name, an unknown time zone, or a malformed, reserved or taken address.
    """
    if not proposer.is_verified:
        raise RegistrationError(
            _("Please confirm your email address first. We can send the link again."))
    waiting = pending_count(proposer)
    if waiting >= MAX_PENDING_PER_PROPOSER:
        raise RegistrationError(ngettext(
            "You already have %(num)d hub waiting for a decision. "
            "Please wait for the coordinators before proposing another.",
            "You already have %(num)d hubs waiting for a decision. "
            "Please wait for the coordinators before proposing another.",
            waiting))
    chapter = db.session.scalar(select(Chapter).where(Chapter.code == chapter_code))
    if chapter is None:
        raise RegistrationError(_("Choose the chapter your hub belongs to."), "chapter")
    name_en = name_en.strip()
    if not name_en:
        raise RegistrationError(_("Enter the hub's name in English."), "name_en")
    zone = valid_timezone(timezone.strip() or chapter.default_timezone)
    if zone is None:
        raise RegistrationError(_("We do not know that time zone. Choose one from the list, "
                                  "such as Europe/London or Asia/Hong_Kong."), "timezone")

    slug = slug.strip().lower()
    if slug:
        if not is_valid_slug(slug):
            raise RegistrationError(_(
                "Use 3 to 64 lowercase letters, digits and hyphens, "
                "starting and ending with a letter or digit."), "slug")
        if slug_taken(slug):
            raise RegistrationError(_taken_message(), "slug")
    else:
        suggestion = suggest_slug(name_en)
        if not is_valid_slug(suggestion):
            raise RegistrationError(
                _("We could not make a web address from the English name. Choose one."),
                "slug")
        slug = _free_slug(suggestion)

    hub = Hub(
        chapter_id=chapter.id, slug=slug, name_en=name_en, name_zh=name_zh.strip(),
        description_en=description_en.strip(), description_zh=description_zh.strip(),
        city_en=city_en.strip(), city_zh=city_zh.strip(), timezone=zone,
        join_policy=join_policy, join_question=join_question.strip(), visibility=visibility,
        status=HubStatus.PENDING, proposed_by_id=proposer.id,
    )
    try:
        # A savepoint: losing a race for the address rolls back this insert only,
        # and the person sees the same message as for an address already taken.
        with db.session.begin_nested():
            db.session.add(hub)
            db.session.flush()
    except sa.exc.IntegrityError:
        raise RegistrationError(_taken_message(), "slug") from None
    return hub


def _taken_message() -> str:
    return _("Another hub already uses this web address. Choose another.")


def pending_registrations(chapter: Chapter) -> list[PendingHub]:
    """The chapter's hubs waiting for a decision, oldest first."""
    rows = db.session.execute(
        select(Hub, User.display_name)
        .outerjoin(User, User.id == Hub.proposed_by_id)
        .where(Hub.chapter_id == chapter.id, Hub.status == HubStatus.PENDING)
        .order_by(Hub.created_at, Hub.id)
    )
    return [PendingHub(hub, name) for hub, name in rows]


def _lock_for_decision(hub: Hub, actor: User) -> None:
    """Lock the hub's row (PostgreSQL; SQLite serialises writers anyway), so two
    coordinators deciding at once cannot both succeed.

    Raises RegistrationError unless ``actor`` may decide and the hub still waits.
    """
    db.session.refresh(hub, with_for_update=True)
    if not hub_can(actor, HubAction.DECIDE_REGISTRATION, hub):
        raise RegistrationError(_("This hub is no longer waiting for a decision."))


def _proposer(hub: Hub) -> User | None:
    return db.session.get(User, hub.proposed_by_id) if hub.proposed_by_id else None


def _email_locale(user: User) -> str:
    return supported_locale(user.locale) or "en"


def _audit(actor: User, action: str, hub: Hub, subject: User | None, detail: str) -> None:
    audit.record(actor, action, "hub", hub.slug, hub=hub, subject_user=subject, detail=detail)


@atomic
def approve_registration(hub: Hub, actor: User) -> Membership | None:
    """Make a pending hub active and its proposer an active lead (creating or
    upgrading their membership), email the proposer and write the audit entry.

    Returns the proposer's membership, or None when their account is gone.
    Raises RegistrationError unless ``actor`` may decide on ``hub`` and it is
    still pending.
    """
    _lock_for_decision(hub, actor)
    hub.status = HubStatus.ACTIVE
    hub.decline_reason = ""
    proposer = _proposer(hub)
    membership = None
    if proposer is not None:
        membership = db.session.scalar(select(Membership).where(
            Membership.user_id == proposer.id, Membership.hub_id == hub.id))
        if membership is None:
            membership = Membership(user=proposer, hub=hub)
            db.session.add(membership)
        membership.role = MemberRole.LEAD
        membership.status = MembershipStatus.ACTIVE
        queue_templated_email(
            to_address=proposer.email, locale=_email_locale(proposer),
            template="hub_registration_approved", user_id=proposer.id,
            display_name=proposer.display_name, hub=hub,
            hub_url=absolute_url("hubs.detail", slug=hub.slug),
            # Leads are staff: their hub pages ask for two-factor first (R20).
            needs_two_factor=not proposer.totp_secret,
            two_factor_url=absolute_url("auth.two_factor"),
        )
    _audit(actor, "hub.approve", hub, proposer,
           "pending -> active; proposer made lead" if proposer else "pending -> active")
    db.session.flush()
    return membership


@atomic
def decline_registration(hub: Hub, actor: User, reason: str) -> None:
    """Decline a pending hub with ``reason`` (1–500 characters), which is kept on
    the hub and emailed to the proposer; write the audit entry.

    Raises RegistrationError for an empty or overlong reason (field "reason"),
    or unless ``actor`` may decide on ``hub`` and it is still pending.
    """
    reason = reason.replace("\x00", "").strip()
    if not reason:
        raise RegistrationError(
            _("Give a reason, so the proposer knows what to change."), "reason")
    if len(reason) > DECLINE_REASON_MAX:
        raise RegistrationError(
            _("Use at most %(max)d characters.", max=DECLINE_REASON_MAX), "reason")
    _lock_for_decision(hub, actor)
    hub.status = HubStatus.DECLINED
    hub.decline_reason = reason
    proposer = _proposer(hub)
    if proposer is not None:
        queue_templated_email(
            to_address=proposer.email, locale=_email_locale(proposer),
            template="hub_registration_declined", user_id=proposer.id,
            display_name=proposer.display_name, hub=hub, reason=reason,
            register_url=absolute_url("registration.register"),
        )
    _audit(actor, "hub.decline", hub, proposer, reason)
    db.session.flush()
