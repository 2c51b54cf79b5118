"""What the member area shows and does: a member's hubs, RSVPs and the news of
their hubs; their settings; exporting and deleting their account."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import delete, or_, select
from sqlalchemy import update as sa_update
from sqlalchemy.orm import aliased, contains_eager, joinedload

from community import audit
from community.admin.models import Report
from community.audit_models import AuditEntry
from community.auth import throttle
from community.auth.models import RecoveryCode, User, UserSession
from community.auth.passwords import verify_password
from community.database import is_public_id, utcnow
from community.errors import DomainError
from community.events.models import Event, EventStatus, Rsvp, RsvpStatus
from community.events.services import promote_waitlist
from community.extensions import db
from community.hubs.models import (
    Chapter,
    ChapterRole,
    Hub,
    HubStatus,
    Membership,
    MembershipStatus,
)
from community.i18n import ENGLISH_REGIONS, supported_locale, valid_timezone
from community.outbox_models import OutboxEmail
from community.permissions import event_audience_clause, forget_hub_names, travelling
from community.retention import scrub
from community.transaction import after_commit, atomic
from community.updates.models import Comment, Update, UpdateStatus


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


@dataclass(frozen=True)
class HubNews:
    """One line of "latest from my hubs": an update or a newly announced event."""

    kind: str  # "update" or "event"
    item: Update | Event
    owner: Hub | Chapter
    at: datetime


def latest_from_my_hubs(user: User, limit: int = 10) -> list[HubNews]:
    """Published updates of the member's active hubs (and of their chapters) and
    events those hubs announced that are not over yet, newest first; invite-only
    events stay out. Two queries, whatever the number of hubs."""
    hub_ids = (select(Membership.hub_id).join(Membership.hub)
               .where(Membership.user_id == user.id,
                      Membership.status == MembershipStatus.ACTIVE,
                      Hub.status == HubStatus.ACTIVE))
    chapter_ids = select(Hub.chapter_id).where(Hub.id.in_(hub_ids))
    updates = db.session.scalars(
        select(Update)
        .options(joinedload(Update.hub), joinedload(Update.chapter))
        .where(or_(Update.hub_id.in_(hub_ids), Update.chapter_id.in_(chapter_ids)),
               Update.status == UpdateStatus.PUBLISHED)
        .order_by(Update.published_at.desc(), Update.id.desc())
        .limit(limit)
    )
    events = db.session.scalars(
        select(Event)
        .options(joinedload(Event.hub))
        .where(Event.hub_id.in_(hub_ids), event_audience_clause(member=True),
               Event.published_at.is_not(None), Event.ends_at >= utcnow())
        .order_by(Event.published_at.desc(), Event.id.desc())
        .limit(limit)
    )
    news = [HubNews("update", u, u.hub if u.hub is not None else u.chapter, u.published_at)
            for u in updates]
    news += [HubNews("event", e, e.hub, e.published_at) for e in events]
    news.sort(key=lambda entry: entry.at, reverse=True)
    return news[:limit]


# --- settings --------------------------------------------------------------------

HUB_NAME_MAX = 64


class AccountError(DomainError):
    """A rule refused the request; ``message`` is translated and safe to show."""


# --- names per hub (issue 16) ----------------------------------------------------

def my_hub_names(user: User) -> list[Membership]:
    """The member's hubs with the name used in each, by hub name: what the member
    area shows as "which name is used where". None while travel mode is on."""
    if travelling(user):
        return []
    return my_hubs(user)


@atomic
def set_hub_name(user: User, membership_id: str, name: str) -> Membership:
    """Use ``name`` in one of the member's own hubs (empty: the account's display
    name again). Raises AccountError for a membership that is not theirs, for
    an overlong name, and while travel mode is on."""
    membership = None
    if is_public_id(membership_id) and not travelling(user):
        membership = db.session.scalar(select(Membership).where(
            Membership.public_id == membership_id, Membership.user_id == user.id,
            Membership.status != MembershipStatus.REMOVED))
    if membership is None:
        raise AccountError(_("That is not one of your hubs."))
    name = " ".join((name or "").split())
    if len(name) > HUB_NAME_MAX:
        raise AccountError(_("Use at most %(max)d characters.", max=HUB_NAME_MAX), field="name")
    membership.hub_display_name = "" if name == user.display_name else name
    forget_hub_names()
    db.session.flush()
    return membership


@atomic
def update_settings(
    user: User,
    *,
    display_name: str,
    locale: str,
    timezone: str,
    notify_events: bool,
    date_format: str = "",
    notify_updates: bool,
    notify_reminders: bool,
    notify_waitlist: bool,
    weekly_digest: bool,
) -> None:
    """Change the member's own settings, these and no other columns (R10).

    Raises AccountError for a language or time zone Harbour does not offer.
    """
    if supported_locale(locale) is None:
        raise AccountError(_("Choose one of the languages in the list."), field="locale")
    if valid_timezone(timezone) is None:
        raise AccountError(_("We do not know that time zone. Choose one from the list, "
                             "such as Europe/London or Asia/Hong_Kong."), field="timezone")
    user.display_name = display_name
    user.locale = locale
    user.timezone = timezone
    user.date_format = date_format if date_format in ENGLISH_REGIONS else ""
    user.notify_events = bool(notify_events)
    user.notify_updates = bool(notify_updates)
    user.notify_reminders = bool(notify_reminders)
    user.notify_waitlist = bool(notify_waitlist)
    user.weekly_digest = bool(weekly_digest)
    db.session.flush()


def set_language(user: User, locale: str) -> bool:
    """The header's language switch, for a signed-in member: the account's
    language follows, or the saved setting would win over the switch on the
    next page. Returns whether it changed."""
    if supported_locale(locale) is None:
        raise AccountError(_("Choose one of the languages in the list."), field="locale")
    if user.locale == locale:
        return False
    user.locale = locale
    db.session.flush()
    return True


# --- export (DESIGN §2 rule 9, R42) ----------------------------------------------

EXPORT_FORMAT = "harbour-export"
EXPORT_VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _hub_ref(hub: Hub | None) -> dict | None:
    if hub is None:
        return None
    return {"slug": hub.slug, "name_en": hub.name_en, "name_zh": hub.name_zh}


def _chapter_ref(chapter: Chapter | None) -> dict | None:
    if chapter is None:
        return None
    return {"code": chapter.code, "name_en": chapter.name_en, "name_zh": chapter.name_zh}


def export_user_data(user: User) -> dict:
    """Everything Harbour holds about ``user``, as JSON-ready values (R42).

    Only the member's own data: no other member's name, email, RSVP or note,
    no organiser notes about them, and no password hash, TOTP secret,
    recovery code or calendar token. Audit entries name no record, because
    the record may be another member's.
    """
    memberships = db.session.scalars(
        select(Membership).options(joinedload(Membership.hub).joinedload(Hub.chapter))
        .where(Membership.user_id == user.id).order_by(Membership.created_at, Membership.id)
    )
    chapter_roles = db.session.scalars(
        select(ChapterRole).options(joinedload(ChapterRole.chapter))
        .where(ChapterRole.user_id == user.id).order_by(ChapterRole.created_at)
    )
    rsvps = db.session.scalars(
        select(Rsvp).join(Rsvp.event)
        .options(contains_eager(Rsvp.event).joinedload(Event.hub))
        .where(Rsvp.user_id == user.id).order_by(Event.starts_at, Rsvp.id)
    )
    events_created = db.session.scalars(
        select(Event).options(joinedload(Event.hub))
        .where(Event.created_by_id == user.id).order_by(Event.starts_at, Event.id)
    )
    updates = db.session.scalars(
        select(Update).options(joinedload(Update.hub), joinedload(Update.chapter))
        .where(Update.author_id == user.id).order_by(Update.created_at, Update.id)
    )
    comments = db.session.scalars(
        select(Comment).options(joinedload(Comment.update))
        .where(Comment.author_id == user.id).order_by(Comment.created_at, Comment.id)
    )
    reports = db.session.scalars(
        select(Report).where(Report.reporter_id == user.id).order_by(Report.created_at)
    )
    sessions = db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id)
        .order_by(UserSession.created_at)
    )
    audit_hub = aliased(Hub)
    audit_chapter = aliased(Chapter)
    audit_rows = db.session.execute(
        select(AuditEntry, audit_hub.slug, audit_chapter.code)
        .outerjoin(audit_hub, AuditEntry.hub_id == audit_hub.id)
        .outerjoin(audit_chapter, AuditEntry.chapter_id == audit_chapter.id)
        .where(or_(AuditEntry.actor_id == user.id, AuditEntry.subject_user_id == user.id))
        .order_by(AuditEntry.created_at, AuditEntry.id)
    )
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": _iso(utcnow()),
        "profile": {
            "email": user.email,
            "display_name": user.display_name,
            "locale": user.locale,
            "timezone": user.timezone,
            "date_format": user.date_format,
            "created_at": _iso(user.created_at),
            "email_verified": user.email_verified_at is not None,
            "email_verified_at": _iso(user.email_verified_at),
            "two_factor_enabled": bool(user.totp_secret),
            "password_changed_at": _iso(user.password_changed_at),
            "site_admin": user.is_site_admin,
            "personal_calendar_enabled": user.calendar_token_hash is not None,
            "notifications": {
                "events": user.notify_events,
                "updates": user.notify_updates,
                "reminders": user.notify_reminders,
                "waitlist": user.notify_waitlist,
                "weekly_digest": user.weekly_digest,
            },
        },
        # organiser_notes are the organisers' notes, not the member's data to take.
        "memberships": [{
            "hub": _hub_ref(m.hub),
            "chapter": _chapter_ref(m.hub.chapter),
            "role": m.role.value,
            "status": m.status.value,
            "join_answer": m.join_answer,
            "listed_to_members": m.listed_to_members,
            "hub_display_name": m.hub_display_name,
            "created_at": _iso(m.created_at),
        } for m in memberships],
        "chapter_roles": [{
            "chapter": _chapter_ref(r.chapter),
            "role": r.role.value,
            "created_at": _iso(r.created_at),
        } for r in chapter_roles],
        # The venue's address is the organisers' to reveal (R3), so it is left out.
        "rsvps": [{
            "event": {"title_en": r.event.title_en, "title_zh": r.event.title_zh,
                      "starts_at": _iso(r.event.starts_at),
                      "timezone": r.event.timezone, "hub": _hub_ref(r.event.hub)},
            "status": r.status.value,
            "guests": r.guests,
            "note": r.note,
            "checked_in_at": _iso(r.checked_in_at),
            "created_at": _iso(r.created_at),
        } for r in rsvps],
        "events_created": [{
            "title_en": e.title_en,
            "title_zh": e.title_zh,
            "hub": _hub_ref(e.hub),
            "starts_at": _iso(e.starts_at),
            "status": e.status.value,
            "created_at": _iso(e.created_at),
        } for e in events_created],
        "updates": [{
            "hub": _hub_ref(u.hub),
            "chapter": _chapter_ref(u.chapter),
            "title_en": u.title_en,
            "title_zh": u.title_zh,
            "body_en": u.body_en,
            "body_zh": u.body_zh,
            "audience": u.audience.value,
            "status": u.status.value,
            "published_at": _iso(u.published_at),
            "created_at": _iso(u.created_at),
        } for u in updates],
        "comments": [{
            "update": {"title_en": c.update.title_en, "title_zh": c.update.title_zh},
            "body": c.body,
            "hidden": c.hidden_at is not None,
            "edited_at": _iso(c.edited_at),
            "created_at": _iso(c.created_at),
        } for c in comments],
        "reports": [{
            "target_type": r.target_type.value,
            "reason": r.reason,
            "status": r.status.value,
            "created_at": _iso(r.created_at),
        } for r in reports],
        "sessions": [{
            "device": s.device_label,
            "created_at": _iso(s.created_at),
            "last_seen_at": _iso(s.last_seen_at),
        } for s in sessions],
        # Neither the other party nor the record is named: either may be another member.
        "audit_entries": [{
            "action": entry.action,
            "target_type": entry.target_type,
            "by_you": entry.actor_id == user.id,
            "about_you": entry.subject_user_id == user.id,
            "hub": hub_slug,
            "chapter": chapter_code,
            "created_at": _iso(entry.created_at),
        } for entry, hub_slug, chapter_code in audit_rows],
    }


def record_export(user: User) -> None:
    """Write the audit entry for a data export (R45)."""
    audit.record(user, "account.export", "user", user.public_id, subject_user=user)
    db.session.flush()


# --- deletion (DESIGN §2 rule 9, R43) --------------------------------------------

def check_password(user: User, password: str) -> None:
    """Raise AccountError unless ``password`` is the member's, and Throttled once
    too many wrong ones were tried; a tripped limit stops before hashing (R14)."""
    throttle.check("login", user.email)
    if not verify_password(user.password_hash, password):
        throttle.record_failure("login", user.email)
        raise AccountError(_("Your password is not right."), field="password")


def delete_account(user: User, password: str) -> list[Rsvp]:
    """Delete the account for real, in the caller's transaction (R43).

    Goes: profile, email, password, 2FA secret, recovery codes, sessions,
    memberships, chapter roles, RSVPs (their seats go to the waiting list) and
    mail waiting for them. Stays: updates and comments, with no author
    ("deleted member"); audit entries, with one random pseudonym in place of
    the member. Raises AccountError for a wrong password, Throttled after too
    many. Returns the RSVPs promoted from a waiting list.
    """
    check_password(user, password)
    promoted = []
    rsvps = db.session.scalars(select(Rsvp).where(Rsvp.user_id == user.id)).all()
    freed = [rsvp.event for rsvp in rsvps if rsvp.status is RsvpStatus.GOING]
    for rsvp in rsvps:
        db.session.delete(rsvp)
    db.session.flush()
    for event in freed:
        promoted.extend(promote_waitlist(event))

    # One pseudonym per deleted member keeps the log readable ("the same person
    # did these") without saying who; the foreign keys then null actor_id.
    pseudonym = "deleted-" + secrets.token_urlsafe(16)
    db.session.execute(
        sa_update(AuditEntry).where(AuditEntry.actor_id == user.id)
        .values(actor_pseudonym=pseudonym), execution_options={"synchronize_session": False})
    db.session.execute(
        sa_update(AuditEntry)
        .where(AuditEntry.target_type == "user", AuditEntry.target_id == user.public_id)
        .values(target_id=pseudonym), execution_options={"synchronize_session": False})

    for model in (Membership, ChapterRole, UserSession, RecoveryCode):
        db.session.execute(delete(model).where(model.user_id == user.id))
    # Mail to them: rows tied to the account, and any sent to the address alone.
    db.session.execute(delete(OutboxEmail).where(
        or_(OutboxEmail.user_id == user.id, OutboxEmail.to_index == user.email_index)))
    db.session.execute(delete(User).where(User.id == user.id))
    audit.record(None, "account.delete", "user", pseudonym, actor_pseudonym=pseudonym)
    db.session.flush()
    # Once committed, empty SQLite's WAL so no page image of the account stays
    # in it (secure_delete zeroes the file's free space); PostgreSQL's VACUUM
    # runs with the nightly retention job.
    after_commit(lambda: scrub(()))
    return promoted
