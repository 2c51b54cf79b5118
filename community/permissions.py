"""One answer to "may this user do this to that?" (DESIGN §2 rule 10).

Every view asks here. What a user may not see answers 404, so private hubs
and events do not reveal that they exist (R8).

Each visibility rule is written once, as a Python check and, where listings
need it, as an SQL clause beside it: listed hubs, events, updates, chapter
staff, and whether search engines may index a page.
"""

from __future__ import annotations

import enum

from flask import abort, g
from flask_login import current_user
from sqlalchemy import select

from community.database import utcnow
from community.events.door.models import DoorStaff
from community.events.models import Audience, Event, EventStatus
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
from community.updates.models import Update, UpdateAudience, UpdateStatus


class HubAction(enum.Enum):
    VIEW = "view"                      # see the hub page
    VIEW_MEMBERS_AREA = "members_area"  # members-only updates, events and list
    JOIN = "join"
    MANAGE_MEMBERS = "manage_members"  # approve, remove, notes, invites
    MANAGE_ORGANISERS = "manage_organisers"  # promote and demote
    EDIT = "edit"                      # hub settings, high-risk preset
    VIEW_AUDIT = "view_audit"
    DECIDE_REGISTRATION = "decide_registration"
    VOUCH = "vouch"                    # answer requests to join (vouched admission)
    VIEW_VOUCHES = "view_vouches"      # who vouched for whom: leads, audited


def travelling(user) -> bool:
    """Whether ``user`` has travel mode on (DESIGN §2 rule 11): then, on their own
    screens, they are a member of nothing and staff of nothing, so a searched
    phone shows a new account. Other people's views of them do not change."""
    return _signed_in(user) and user.travel_mode_since is not None


def membership_of(user, hub: Hub) -> Membership | None:
    if user is None or not user.is_authenticated or travelling(user):
        return None
    return db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.hub_id == hub.id)
    )


def is_coordinator(user, chapter: Chapter | int) -> bool:
    if user is None or not user.is_authenticated or travelling(user):
        return False
    chapter_id = chapter if isinstance(chapter, int) else chapter.id
    return db.session.scalar(
        select(ChapterRole.id).where(ChapterRole.user_id == user.id,
                                     ChapterRole.chapter_id == chapter_id).limit(1)
    ) is not None


def is_admin(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_site_admin
                and not travelling(user))


def _signed_in(user) -> bool:
    return user is not None and user.is_authenticated


# --- chapter staff -----------------------------------------------------------------

def is_chapter_staff(user, chapter: Chapter | int) -> bool:
    """Coordinators of the chapter and site admins: the chapter's registrations,
    moderation and updates, and oversight of every hub in it."""
    return is_admin(user) or is_coordinator(user, chapter)


# --- listed hubs -------------------------------------------------------------------

def hub_is_listed(hub: Hub) -> bool:
    """Active and listed: shown in the directory, chapter pages and feeds to anyone."""
    return hub.status is HubStatus.ACTIVE and hub.visibility is HubVisibility.LISTED


def listed_hub_clause():
    """``hub_is_listed`` in SQL, for a query that has ``Hub`` in it."""
    return (Hub.status == HubStatus.ACTIVE) & (Hub.visibility == HubVisibility.LISTED)


def runs_hub(membership: Membership | None) -> bool:
    """An organiser or lead of an active hub by their own membership: what
    MANAGE_MEMBERS grants by role (chapter staff have it by oversight)."""
    return (membership is not None and membership.status is MembershipStatus.ACTIVE
            and membership.role in (MemberRole.ORGANISER, MemberRole.LEAD)
            and membership.hub.status is HubStatus.ACTIVE)


def hub_can(user, action: HubAction, hub: Hub, membership: Membership | None = None) -> bool:
    """Whether ``user`` (anonymous allowed) may do ``action`` to ``hub``.

    Pass the user's membership when it is already loaded to save a query.
    """
    if membership is None:
        membership = membership_of(user, hub)
    active = membership is not None and membership.status is MembershipStatus.ACTIVE
    role = membership.role if active else None
    overseer = is_chapter_staff(user, hub.chapter_id)

    if action is HubAction.DECIDE_REGISTRATION:
        return overseer and hub.status is HubStatus.PENDING
    if action is HubAction.VIEW:
        if hub.status is HubStatus.ACTIVE:
            # Unlisted hubs are 404 to everyone but their members (R4, R5).
            return hub_is_listed(hub) or active or overseer
        if hub.status is HubStatus.PENDING:
            return overseer or (_signed_in(user) and hub.proposed_by_id == user.id)
        return overseer or role is MemberRole.LEAD
    if hub.status is not HubStatus.ACTIVE:
        return action in (HubAction.VIEW_AUDIT, HubAction.EDIT) and (
            overseer or role is MemberRole.LEAD)
    if action is HubAction.VIEW_MEMBERS_AREA:
        return active or overseer
    if action is HubAction.JOIN:
        return (_signed_in(user) and membership is None
                and hub_can(user, HubAction.VIEW, hub, membership))
    if action is HubAction.VOUCH:
        # Every active member, whatever their role; never chapter staff from outside,
        # who cannot know the people of a hub they do not belong to.
        return active
    if action is HubAction.MANAGE_MEMBERS:
        return role in (MemberRole.ORGANISER, MemberRole.LEAD) or overseer
    if action in (HubAction.MANAGE_ORGANISERS, HubAction.EDIT, HubAction.VIEW_AUDIT,
                  HubAction.VIEW_VOUCHES):
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


def hub_staff(action: HubAction):
    """A ``staff_required`` check for pages under /hubs/<slug>: 404 unless the
    signed-in user may do ``action`` to the hub."""

    def check(slug: str, **_other) -> None:
        hub_or_404(slug, current_user, action)

    return check


# --- events ------------------------------------------------------------------------

def event_visible(event: Event, viewer, *, invited: bool = False) -> bool:
    """Whether ``viewer`` (an events.services.Viewer) may see ``event``: drafts for
    organisers; members-only for active members; invite-only for organisers and
    invited people (``invited``: accepting a working invite link right now); all
    of it only inside a hub the viewer may see."""
    if viewer.organiser:
        return True
    if event.status is EventStatus.DRAFT:
        return False
    if not hub_can(viewer.user, HubAction.VIEW, event.hub, viewer.membership):
        return False
    if event.audience is Audience.PUBLIC:
        return True
    if event.audience is Audience.MEMBERS:
        return viewer.active_member
    # Invite only: people who accepted an invite link have an RSVP (any status).
    return viewer.rsvp is not None or (viewer.user is not None and invited)


def event_audience_clause(*, member: bool):
    """SQL: published events a hub shows on its pages: public ones, and members-only
    ones too for ``member``. Invite-only events are never listed."""
    audiences = [Audience.PUBLIC, Audience.MEMBERS] if member else [Audience.PUBLIC]
    return (Event.status == EventStatus.PUBLISHED) & Event.audience.in_(audiences)


def public_event_clause(statuses=None):
    """SQL: events anyone may find in a listing, feed or calendar: published (or one
    of ``statuses``), public, of a listed hub. The query must join ``Event.hub``."""
    status = (Event.status == EventStatus.PUBLISHED if statuses is None
              else Event.status.in_(statuses))
    return status & (Event.audience == Audience.PUBLIC) & listed_hub_clause()


# --- names in a hub ----------------------------------------------------------------

def name_in_hub(user, hub: Hub | int | None) -> str:
    """The only name anyone else sees for ``user`` inside ``hub`` (attendee lists,
    check-in, member lists, comments): the name they chose for that hub, else
    their display name, so one person cannot be linked across hubs by a name
    (issue 16). One query per hub per request, whatever the number of names."""
    if user is None:
        return ""
    hub_id = hub if isinstance(hub, int) or hub is None else hub.id
    if hub_id is None:
        return user.display_name
    cache = g.setdefault("hub_names", {})
    if hub_id not in cache:
        cache[hub_id] = dict(db.session.execute(
            select(Membership.user_id, Membership.hub_display_name).where(
                Membership.hub_id == hub_id, Membership.hub_display_name != "")).all())
    return cache[hub_id].get(user.id) or user.display_name


def forget_hub_names() -> None:
    """Drop this request's names after one changed, so the page shows the new one."""
    g.pop("hub_names", None)


# --- two organisers to open an attendee list -----------------------------------------

def attendee_list_needs_two_keys(hub: Hub) -> bool:
    """Whether opening or exporting an attendee list of ``hub``'s events needs a
    second organiser to agree (issue 16; the high-risk preset turns it on).
    Checking one ticket by its code never does."""
    return bool(hub.attendee_list_two_keys)


# --- door staff --------------------------------------------------------------------

def door_staff_active(user, event: Event, now=None) -> bool:
    """Whether ``user`` may check tickets at the door of ``event`` (DESIGN §1): an
    organiser assigned them, they are still an active member of the hub, and the
    event is published, in an active hub and not over. Door staff see only the
    door page; the role opens no attendee list and no member page."""
    if not _signed_in(user) or event.status is not EventStatus.PUBLISHED:
        return False
    if (now or utcnow()) >= event.ends_at or event.hub.status is not HubStatus.ACTIVE:
        return False
    membership = membership_of(user, event.hub)
    if membership is None or membership.status is not MembershipStatus.ACTIVE:
        return False
    return db.session.scalar(
        select(DoorStaff.id).where(DoorStaff.event_id == event.id,
                                   DoorStaff.user_id == user.id)
    ) is not None


# --- updates -----------------------------------------------------------------------

def may_manage_update(user, update: Update) -> bool:
    """Organisers of the update's hub, or coordinators and admins of its chapter."""
    if not _signed_in(user):
        return False
    if update.hub is not None:
        return hub_can(user, HubAction.MANAGE_MEMBERS, update.hub)
    return is_chapter_staff(user, update.chapter)


def is_member_for_update(user, update: Update) -> bool:
    """Whether ``user`` belongs to the update's audience of members: active members of
    its hub (or, for a chapter update, of any active hub in the chapter), organisers,
    coordinators and admins."""
    if not _signed_in(user):
        return False
    if update.hub is not None:
        return hub_can(user, HubAction.VIEW_MEMBERS_AREA, update.hub)
    if is_chapter_staff(user, update.chapter):
        return True
    if travelling(user):
        return False
    return db.session.scalar(
        select(Membership.id).join(Membership.hub).where(
            Membership.user_id == user.id,
            Membership.status == MembershipStatus.ACTIVE,
            Hub.chapter_id == update.chapter_id,
            Hub.status == HubStatus.ACTIVE,
        ).limit(1)
    ) is not None


def update_visible(user, update: Update) -> bool:
    """Drafts: their author and those who may manage them. Published: the public,
    or members only, and never more than may see the hub itself."""
    if update.status is UpdateStatus.DRAFT:
        return may_manage_update(user, update) or (
            _signed_in(user) and update.author_id is not None and update.author_id == user.id
            and is_member_for_update(user, update))
    if update.hub is not None and not hub_can(user, HubAction.VIEW, update.hub):
        return False
    if update.audience is UpdateAudience.PUBLIC:
        return True
    return is_member_for_update(user, update)


def author_shown(update: Update) -> bool:
    """Whether pages name the person who wrote ``update`` (post as the hub, DESIGN §2
    rule 11). A hub's updates speak as the hub unless it chooses to show authors;
    chapter updates name their coordinator as before. Every reader sees the same
    page, organisers included; the hub's audit log keeps who wrote and edited it."""
    if update.hub is not None:
        return update.hub.show_authors
    return True


def comments_as_hub(user, update: Update) -> bool:
    """Whether a comment ``user`` writes on ``update`` is the hub speaking: they
    organise or lead the update's hub (post as the hub, issue 16). Recorded on
    the comment when it is written, so a later change of role shows nothing."""
    return update.hub is not None and runs_hub(membership_of(user, update.hub))


def comment_shown_as_hub(comment) -> bool:
    """Whether pages show ``comment`` as from its hub rather than naming who wrote
    it: an organiser's or lead's comment, in a hub that does not name authors.
    Every reader sees the same, the writer included; moderation pages and the
    hub's audit log keep the person."""
    hub = comment.update.hub
    return bool(comment.as_hub and hub is not None and not hub.show_authors)


def update_audience_clause(*, member: bool):
    """SQL: published updates shown to the public, or to members as well."""
    audiences = ([UpdateAudience.PUBLIC, UpdateAudience.MEMBERS] if member
                 else [UpdateAudience.PUBLIC])
    return (Update.status == UpdateStatus.PUBLISHED) & Update.audience.in_(audiences)


def public_update_clause():
    """SQL: published public updates (the hub, if any, is for the caller to check)."""
    return (Update.status == UpdateStatus.PUBLISHED) & (Update.audience == UpdateAudience.PUBLIC)


# --- search engines ----------------------------------------------------------------

def hidden_from_search_engines(*, hub: Hub | None = None, event: Event | None = None,
                               update: Update | None = None) -> bool:
    """Whether a public page about ``hub``, ``event`` or ``update`` must ask search
    engines to stay away (DESIGN §2 rule 1): the hub asks for it, is unlisted or
    high-risk; the event is not public; the update is not public or not published.
    Pages that are not public at all never reach here: see ``decide_indexing``."""
    if event is not None:
        if event.audience is not Audience.PUBLIC:
            return True
        hub = event.hub
    if update is not None:
        if update.audience is not UpdateAudience.PUBLIC or (
                update.status is not UpdateStatus.PUBLISHED):
            return True
        hub = update.hub
    if hub is None:
        return False
    return hub.noindex or hub.high_risk or hub.visibility is HubVisibility.UNLISTED


def decide_indexing(*, public: bool = True, hub: Hub | None = None,
                    event: Event | None = None, update: Update | None = None) -> bool:
    """Record for this request whether search engines are asked to stay away, and
    return it. base.html emits the one robots meta tag from it, and the robots
    hook the X-Robots-Tag header.

    A page that calls nothing here is never indexed: member, organiser, admin,
    auth and error pages need not say so. Public pages (``public``) call it with
    what they show, once they have checked permission.
    """
    g.noindex = not public or hidden_from_search_engines(hub=hub, event=event, update=update)
    return g.noindex


def request_hidden_from_search() -> bool:
    """What this request decided (``decide_indexing``); a page under /hubs/<slug>
    that decided nothing follows its hub. For the X-Robots-Tag header and for
    the cached copies of calendars and feeds."""
    from flask import request

    flag = g.get("noindex")
    if flag is not None:
        return bool(flag)
    rule = request.url_rule
    slug = (request.view_args or {}).get("slug")
    if rule is None or not isinstance(slug, str) or not rule.rule.startswith("/hubs/<slug>"):
        return False
    hub = db.session.scalar(select(Hub).where(Hub.slug == slug))
    return hub is not None and hidden_from_search_engines(hub=hub)
