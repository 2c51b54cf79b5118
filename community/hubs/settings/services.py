"""Hub settings, the high-risk preset and invite links (DESIGN §2 rules 1, 8, 10).

Plain functions over plain arguments. Each checks that the actor may act,
keeps the hub's invariants, writes its audit entry in the same transaction
and flushes; the route commits once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from community import audit
from community.auth.models import User
from community.database import is_public_id, utcnow
from community.errors import DomainError
from community.events.models import Audience, Event, EventStatus, Tier
from community.extensions import db
from community.hubs import services as hub_services
from community.hubs.models import (
    CountDisplay,
    Hub,
    HubStatus,
    HubVisibility,
    Invite,
    JoinPolicy,
    Membership,
    MembershipStatus,
)
from community.i18n import valid_timezone
from community.permissions import HubAction, hidden_from_search_engines, hub_can, travelling
from community.transaction import atomic

EXPIRY_DAYS = range(1, 91)
MAX_USES = range(1, 1001)
# Longer than any token we hand out; anything longer is not worth hashing.
TOKEN_MAX_LENGTH = 64


class SettingsError(DomainError):
    """A settings or invite rule refused the change; ``message`` is translated and
    ``field`` names the form field it belongs beside (None: the whole form)."""


class NotAllowed(SettingsError):
    """The actor may not do this to this hub; routes answer 404 (R8)."""


class InviteUnavailable(Exception):
    """The invite link is unknown, expired, revoked or used up. Deliberately one
    error, so a page cannot tell whether a token ever existed."""


class AlreadyMember(Exception):
    """The person following an invite is already an active member of ``hub``."""

    def __init__(self, hub: Hub):
        super().__init__(hub.slug)
        self.hub = hub


# --- who may see, and search engines ---------------------------------------------



# --- settings --------------------------------------------------------------------

# The hub columns an organiser may change here, and nothing else (R10).
TEXT_FIELDS = {
    "name_en": 100, "name_zh": 100, "description_en": 10_000, "description_zh": 10_000,
    "city_en": 100, "city_zh": 100, "join_question": 300,
}
SWITCH_FIELDS = ("timezone", "visibility", "join_policy", "rsvp_approval_default",
                 "attendee_count_display", "keep_checkin_records", "noindex", "allow_comments",
                 "show_authors", "vouches_required", "attendee_list_two_keys")

# What the high-risk preset sets (DESIGN §2 rule 1). Addresses for confirmed
# attendees only follow from ``high_risk`` itself, in event_defaults_for.
HIGH_RISK_PRESET: dict[str, Any] = {
    "visibility": HubVisibility.UNLISTED,
    "join_policy": JoinPolicy.APPROVAL,
    "rsvp_approval_default": True,
    "attendee_count_display": CountDisplay.HIDDEN,
    "keep_checkin_records": False,
    "noindex": True,
    "show_authors": False,
    "vouches_required": 1,
    "attendee_list_two_keys": True,
}
# While the preset is on, each protection may only stay as safe or become safer:
# invitation only is stricter than approval, so it may stay. ``show_authors`` is
# absent on purpose: the preset hides authors, and a hub may choose to name them
# again (issue 16, post as the hub).
HIGH_RISK_ALLOWED: dict[str, set] = {
    "visibility": {HubVisibility.UNLISTED},
    "join_policy": {JoinPolicy.APPROVAL, JoinPolicy.INVITE},
    "rsvp_approval_default": {True},
    "attendee_count_display": {CountDisplay.HIDDEN},
    "keep_checkin_records": {False},
    "noindex": {True},
    "vouches_required": {1, 2, 3},
    "attendee_list_two_keys": {True},
}


def _require(actor: User, action: HubAction, hub: Hub) -> None:
    if not hub_can(actor, action, hub):
        raise NotAllowed(_("You cannot change this hub."))


def _audit(actor: User, action: str, hub: Hub, target_type: str, target_id: str,
           detail: str = "") -> None:
    audit.record(actor, action, target_type, target_id, hub=hub, detail=detail)


def _shown(value: Any) -> str:
    return str(value.value if hasattr(value, "value") else value)


def settings_of(hub: Hub) -> dict[str, Any]:
    """The hub's editable settings as form data (choices as their string values)."""
    values = {name: getattr(hub, name) for name in (*TEXT_FIELDS, *SWITCH_FIELDS)}
    values["vouches_required"] = str(values["vouches_required"])  # a choice, like the others
    return {name: (value.value if hasattr(value, "value") else value)
            for name, value in values.items()}


def protections(hub: Hub) -> dict[str, bool]:
    """Each protection of the high-risk preset and whether it is on now, so the
    settings page can show plainly which are on."""
    return {
        "unlisted": hub.visibility is HubVisibility.UNLISTED,
        "approval_to_join": hub.join_policy in (JoinPolicy.APPROVAL, JoinPolicy.INVITE),
        "approval_to_attend": hub.rsvp_approval_default,
        "addresses_for_attendees": (
            event_defaults_for(hub)["location_visibility"] is Tier.ATTENDEES),
        "counts_hidden": hub.attendee_count_display is CountDisplay.HIDDEN,
        "no_checkin_records": not hub.keep_checkin_records,
        "noindex": hidden_from_search_engines(hub=hub),
        "posts_as_hub": not hub.show_authors,
        "vouched_admission": hub.vouches_required > 0,
        "two_keys": hub.attendee_list_two_keys,
    }


def update_settings(
    hub: Hub,
    actor: User,
    *,
    name_en: str,
    name_zh: str,
    description_en: str,
    description_zh: str,
    city_en: str,
    city_zh: str,
    timezone: str,
    visibility: HubVisibility,
    join_policy: JoinPolicy,
    join_question: str,
    rsvp_approval_default: bool,
    attendee_count_display: CountDisplay,
    keep_checkin_records: bool,
    noindex: bool,
    allow_comments: bool,
    show_authors: bool = False,
    vouches_required: int | str = 0,
    attendee_list_two_keys: bool = False,
) -> list[str]:
    """Change the hub's settings and audit what changed; returns the changed names.

    Raises NotAllowed unless ``actor`` may edit the hub; SettingsError (with the
    field) for an unknown time zone or choice, an empty English name, text over
    its limit, or a change that would loosen a protection while the high-risk
    preset is on.
    """
    _require(actor, HubAction.EDIT, hub)
    texts = {"name_en": name_en, "name_zh": name_zh, "description_en": description_en,
             "description_zh": description_zh, "city_en": city_en, "city_zh": city_zh,
             "join_question": join_question}
    for name, limit in TEXT_FIELDS.items():
        texts[name] = (texts[name] or "").strip()
        if len(texts[name]) > limit:
            raise SettingsError(_("Use at most %(max)d characters.", max=limit), name)
    if not texts["name_en"]:
        raise SettingsError(_("Enter the hub's name in English."), "name_en")
    if valid_timezone(timezone) is None:
        raise SettingsError(_("We do not know that time zone. Choose one from the list, "
                              "such as Europe/London or Asia/Hong_Kong."), "timezone")
    choices = {}
    for name, kind, value in (("visibility", HubVisibility, visibility),
                              ("join_policy", JoinPolicy, join_policy),
                              ("attendee_count_display", CountDisplay, attendee_count_display)):
        try:
            choices[name] = kind(value)
        except ValueError:
            raise SettingsError(_("Choose one of the options in the list."), name) from None
    switches = {"timezone": timezone, **choices,
                "rsvp_approval_default": bool(rsvp_approval_default),
                "keep_checkin_records": bool(keep_checkin_records), "noindex": bool(noindex),
                "allow_comments": bool(allow_comments), "show_authors": bool(show_authors),
                "attendee_list_two_keys": bool(attendee_list_two_keys)}
    try:
        switches["vouches_required"] = int(vouches_required)
    except (TypeError, ValueError):
        switches["vouches_required"] = -1
    if switches["vouches_required"] not in range(0, 4):
        raise SettingsError(_("Choose one of the options in the list."), "vouches_required")
    if hub.high_risk:
        for name, allowed in HIGH_RISK_ALLOWED.items():
            if switches[name] not in allowed:
                raise SettingsError(_("This protection is part of the high-risk preset. "
                                      "Turn the preset off first to change it."), name)

    changed: list[str] = []
    details: list[str] = []
    for name, value in texts.items():
        if getattr(hub, name) != value:
            changed.append(name)
            details.append(name)
    for name, value in switches.items():
        old = getattr(hub, name)
        if old != value:
            changed.append(name)
            details.append(f"{name}: {_shown(old)} -> {_shown(value)}")
    if not changed:
        return []
    for name in changed:
        setattr(hub, name, texts[name] if name in texts else switches[name])
    _audit(actor, "hub.settings", hub, "hub", hub.slug, "; ".join(details))
    db.session.flush()
    return changed


@atomic
def set_high_risk(hub: Hub, actor: User, on: bool) -> bool:
    """Turn the high-risk preset on or off; returns whether anything changed.

    On sets every protection of the preset at once (invitation only stays, being
    stricter than approval). Off clears only the flag and leaves each protection
    as it is, so nothing becomes less safe without an organiser choosing it.
    Raises NotAllowed unless ``actor`` may edit the hub.
    """
    _require(actor, HubAction.EDIT, hub)
    details: list[str] = []
    if on:
        for name, value in HIGH_RISK_PRESET.items():
            old = getattr(hub, name)
            if old not in HIGH_RISK_ALLOWED.get(name, {value}):
                setattr(hub, name, value)
                details.append(f"{name}: {_shown(old)} -> {_shown(value)}")
    if hub.high_risk == on and not details:
        return False
    hub.high_risk = on
    _audit(actor, "hub.high_risk_on" if on else "hub.high_risk_off", hub, "hub", hub.slug,
           "; ".join(details))
    db.session.flush()
    return True


def event_defaults_for(hub: Hub) -> dict[str, Any]:
    """The Event column values a new event of ``hub`` starts with, so events
    inherit the hub's protections: ``Event(hub=hub, **event_defaults_for(hub), ...)``."""
    return {
        "rsvp_approval": hub.rsvp_approval_default or hub.high_risk,
        "location_visibility": Tier.ATTENDEES if hub.high_risk else Tier.PUBLIC,
        "online_visibility": Tier.ATTENDEES,
        "hide_attendee_count": (hub.high_risk
                                or hub.attendee_count_display is CountDisplay.HIDDEN),
    }


# --- invites -----------------------------------------------------------------------

def invite_token_hash(token: str) -> str:
    """The SHA-256 kept instead of the token, so a leaked database opens no hub."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _usable_clause(now):
    return ((Invite.revoked_at.is_(None))
            & or_(Invite.expires_at.is_(None), Invite.expires_at > now)
            & or_(Invite.max_uses.is_(None), Invite.use_count < Invite.max_uses))


def _target(hub: Hub, event: Event | None):
    """Which invites belong where: a hub's own links, or one event's (of that hub)."""
    if event is None:
        return Invite.hub_id == hub.id
    return Invite.event_id == event.id


def _belongs(invite: Invite, hub: Hub, event: Event | None) -> bool:
    if event is None:
        return invite.hub_id == hub.id
    return event.hub_id == hub.id and invite.event_id == event.id


def create_invite(hub: Hub, actor: User, *, expires_in_days: int,
                  max_uses: int | None = None,
                  event: Event | None = None) -> tuple[Invite, str]:
    """A new invite link to ``hub`` (or, given ``event`` of that hub, to the
    event alone); returns the invite and its token, which is stored only as a
    hash and so can be shown this once.

    Raises NotAllowed unless ``actor`` may manage the hub's members, and
    SettingsError when the expiry is not 1–90 days or the limit not 1–1000.
    """
    if event is not None and event.hub_id != hub.id:
        raise NotAllowed(_("You cannot change this hub."))
    _require(actor, HubAction.MANAGE_MEMBERS, hub)
    if expires_in_days not in EXPIRY_DAYS:
        raise SettingsError(_("Enter a number of days from %(min)s to %(max)s.",
                              min=EXPIRY_DAYS[0], max=EXPIRY_DAYS[-1]), "expires_in_days")
    if max_uses is not None and max_uses not in MAX_USES:
        raise SettingsError(_("Enter a number from %(min)s to %(max)s, or leave it empty "
                              "for no limit.", min=MAX_USES[0], max=MAX_USES[-1]), "max_uses")
    # 128 random bits (R7); only the hash is kept.
    token = secrets.token_urlsafe(16)
    # An event's link names only the event, so it never opens the hub itself.
    invite = Invite(token_hash=invite_token_hash(token),
                    hub_id=hub.id if event is None else None,
                    event_id=event.id if event is not None else None,
                    created_by_id=actor.id,
                    expires_at=utcnow() + timedelta(days=expires_in_days), max_uses=max_uses,
                    use_count=0)
    db.session.add(invite)
    db.session.flush()
    limit = str(max_uses) if max_uses is not None else "none"
    about = f"event {event.public_id}; " if event is not None else ""
    _audit(actor, "invite.create", hub, "invite", invite.public_id,
           f"{about}expires in {expires_in_days} days; use limit {limit}")
    db.session.flush()
    return invite, token


def active_invites(hub: Hub, event: Event | None = None) -> list[Invite]:
    """The hub's (or its ``event``'s) invites that still work, newest first."""
    return list(db.session.scalars(
        select(Invite).where(_target(hub, event), _usable_clause(utcnow()))
        .order_by(Invite.created_at.desc(), Invite.id.desc())
    ))


def invite_of_hub(hub: Hub, public_id: str, event: Event | None = None) -> Invite | None:
    """The invite with this public id if it belongs to ``hub`` (or to its
    ``event``) (R9), else None."""
    if not is_public_id(public_id) or (event is not None and event.hub_id != hub.id):
        return None
    return db.session.scalar(
        select(Invite).where(Invite.public_id == public_id, _target(hub, event)))


@atomic
def revoke_invite(hub: Hub, invite: Invite, actor: User, event: Event | None = None) -> bool:
    """Stop ``invite`` working; returns False when it was already revoked.

    Raises NotAllowed unless ``actor`` may manage the hub's members and the
    invite belongs to ``hub`` (or, given ``event``, to that event of the hub).
    """
    _require(actor, HubAction.MANAGE_MEMBERS, hub)
    if not _belongs(invite, hub, event):
        raise NotAllowed(_("You cannot change this hub."))
    if invite.revoked_at is not None:
        return False
    invite.revoked_at = utcnow()
    _audit(actor, "invite.revoke", hub, "invite", invite.public_id,
           f"used {invite.use_count} times")
    db.session.flush()
    return True


def invite_for_token(token: str) -> tuple[Invite, Hub]:
    """The usable hub invite for ``token`` and its hub.

    Raises InviteUnavailable for an unknown, expired, revoked or used-up token,
    and for an invite to a hub that is not active.
    """
    invite = _usable_invite(token, Invite.hub_id)
    hub = db.session.get(Hub, invite.hub_id)
    if hub is None or hub.status is not HubStatus.ACTIVE:
        raise InviteUnavailable
    return invite, hub


def _usable_invite(token: str, target) -> Invite:
    """The usable invite for ``token`` whose ``target`` column (hub or event) is set."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise InviteUnavailable
    invite = db.session.scalar(select(Invite).where(
        Invite.token_hash == invite_token_hash(token), target.is_not(None)))
    if invite is None:
        raise InviteUnavailable
    now = utcnow()
    if (invite.revoked_at is not None
            or (invite.expires_at is not None and invite.expires_at <= now)
            or (invite.max_uses is not None and invite.use_count >= invite.max_uses)):
        raise InviteUnavailable
    return invite


def event_invite_for_token(token: str) -> tuple[Invite, Event]:
    """The usable event invite for ``token`` and its event.

    Raises InviteUnavailable for an unknown, expired, revoked or used-up token,
    and for an event that is not a published invite-only event of an active hub.
    """
    invite = _usable_invite(token, Invite.event_id)
    event = db.session.get(Event, invite.event_id)
    if (event is None or event.status is not EventStatus.PUBLISHED
            or event.audience is not Audience.INVITE
            or event.hub.status is not HubStatus.ACTIVE):
        raise InviteUnavailable
    return invite, event


def claim_invite_use(invite: Invite) -> None:
    """Count one use of ``invite`` in a single conditional UPDATE, so concurrent
    uses can never go past its limit (the database re-checks the row it locks).

    Raises InviteUnavailable when the invite is no longer usable.
    """
    result = db.session.execute(
        update(Invite)
        .where(Invite.id == invite.id, _usable_clause(utcnow()))
        .values(use_count=Invite.use_count + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InviteUnavailable
    db.session.expire(invite, ["use_count"])


@atomic
def accept_invite(user: User, token: str) -> Membership:
    """Join the hub of the invite ``token`` as an active member, using it once.

    A pending request to join becomes active (the invite is the organisers'
    approval). Raises InviteUnavailable (unknown, expired, revoked or used up),
    AlreadyMember, or HubError from joining (unverified account, removed member).
    The caller rolls back on any of them, so a failed join uses nothing.
    """
    invite, hub = invite_for_token(token)
    membership = db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.hub_id == hub.id))
    if membership is not None and travelling(user):
        # Travel mode: the answer a newcomer gets, and nothing changes or is used
        # up, so an invite cannot show which hubs they belong to (issue 16).
        hub_services.join(user, hub, via_invite=True)
        return membership
    if membership is not None and membership.status is MembershipStatus.ACTIVE:
        raise AlreadyMember(hub)
    if membership is not None and membership.status is MembershipStatus.PENDING:
        if not user.is_verified:
            raise hub_services.HubError(
                _("Please confirm your email address before joining a hub."))
        claim_invite_use(invite)
        membership.status = MembershipStatus.ACTIVE
        db.session.flush()
        return membership
    claim_invite_use(invite)
    return hub_services.join(user, hub, via_invite=True)
