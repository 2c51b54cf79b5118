""""Who looked at my RSVPs" (issue 7 item 4, R45): each audited opening or
export of an attendee list that included the member, with the hub, the
viewer's role there (as it is now) and when. Never the viewer's email."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import false as sa_false
from sqlalchemy import func, select

from community import audit
from community.audit_models import AuditEntry
from community.auth.models import User
from community.extensions import db
from community.hubs.models import (
    ChapterRole,
    Hub,
    MemberRole,
    Membership,
    MembershipStatus,
)
from community.pagination import Page, int_arg, paginate
from community.permissions import travelling

bp = Blueprint("transparency", __name__)

PER_PAGE = 50
ACTIONS = ("attendees.view", "attendees.export", "attendees.approve")

ROLE_WORDS = {
    "lead": _l("Hub lead"),
    "organiser": _l("Organiser"),
    "coordinator": _l("Chapter coordinator"),
    "admin": _l("Site admin"),
    "former": _l("Former organiser"),
}


@dataclass(frozen=True)
class Access:
    when: datetime
    action: str
    hub: Hub | None
    role: str


def _roles_now(entries: list[tuple[AuditEntry, Hub | None]]) -> dict[tuple, str]:
    """The actor's role in each entry's hub today: three queries a page."""
    actor_ids = {e.actor_id for e, _hub in entries if e.actor_id is not None}
    hub_ids = {e.hub_id for e, _hub in entries if e.hub_id is not None}
    if not actor_ids:
        return {}
    hub_roles = {(uid, hid): role for uid, hid, role in db.session.execute(
        select(Membership.user_id, Membership.hub_id, Membership.role)
        .where(Membership.user_id.in_(actor_ids), Membership.hub_id.in_(hub_ids),
               Membership.status == MembershipStatus.ACTIVE,
               Membership.role.in_([MemberRole.ORGANISER, MemberRole.LEAD])))}
    coordinators = {tuple(row) for row in db.session.execute(
        select(ChapterRole.user_id, ChapterRole.chapter_id)
        .where(ChapterRole.user_id.in_(actor_ids)))}
    admins = set(db.session.scalars(
        select(User.id).where(User.id.in_(actor_ids), User.is_site_admin.is_(True))))
    roles = {}
    for entry, hub in entries:
        key = (entry.actor_id, entry.hub_id)
        role = hub_roles.get(key)
        if role is not None:
            roles[key] = role.value
        elif hub is not None and (entry.actor_id, hub.chapter_id) in coordinators:
            roles[key] = "coordinator"
        elif entry.actor_id in admins:
            roles[key] = "admin"
    return roles


def accesses(user: User, page: int = 1, per_page: int = PER_PAGE) -> Page:
    where = (AuditEntry.subject_user_id == user.id, AuditEntry.action.in_(ACTIONS))
    if travelling(user):
        # These name the member's hubs; travel mode shows none (issue 16).
        where = (*where, sa_false())
    page = paginate(
        select(AuditEntry, Hub).outerjoin(Hub, AuditEntry.hub_id == Hub.id).where(*where)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()),
        count=select(func.count()).select_from(AuditEntry).where(*where),
        page=page, per_page=per_page, rows=True)
    roles = _roles_now(page.items)

    def access(row) -> Access:
        entry, hub = row
        return Access(entry.created_at, entry.action, hub,
                      roles.get((entry.actor_id, entry.hub_id), "former"))

    return page.map(access)


@bp.get("/account/rsvp-access")
@login_required
def rsvp_access():
    return render_template("members/rsvp_access.html", page=accesses(current_user,
                                                                     int_arg("page")),
                           role_words=ROLE_WORDS, describe=audit.describe)
