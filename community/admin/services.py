"""Site administration rules: the overview numbers, people, the audit trail
and the reports queue.

Each change writes exactly one audit entry in the caller's transaction
(DESIGN §2 rule 8). Refusals raise AdminError with a translated message.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from xml.etree import ElementTree as ET  # noqa: S405  (building, never parsing)

from flask import current_app
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import case, delete, distinct, extract, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload

from community import audit
from community.admin.models import Report, ReportStatus, ReportTarget
from community.audit_models import AuditEntry
from community.auth.models import User
from community.auth.sessions import end_other_sessions
from community.database import escape_like, is_public_id, utcnow
from community.encryption import blind_index
from community.errors import DomainError
from community.events.models import Event, EventStatus, Rsvp
from community.extensions import db
from community.hubs.models import (
    Chapter,
    ChapterRole,
    ChapterRoleKind,
    Hub,
    HubStatus,
    MemberRole,
    Membership,
    MembershipStatus,
)
from community.i18n import join_list
from community.mail import InvalidRecipient, queue_templated_email
from community.pagination import Page, count_of, paginate
from community.security import csv_cell
from community.transaction import atomic
from community.updates.models import Comment, Update, UpdateStatus

USERS_PER_PAGE = 50
AUDIT_PER_PAGE = 50
REPORTS_PER_PAGE = 50
CSV_LIMIT = 100_000


def describe(action: str) -> str:
    return audit.describe(action)


class AdminError(DomainError):
    """An admin rule refused the request; ``message`` is translated."""


# --- overview ----------------------------------------------------------------

@dataclass(frozen=True)
class ChapterStats:
    chapter: Chapter
    members: int
    hubs: int
    pending_hubs: int
    events: int


def chapter_stats() -> list[ChapterStats]:
    """Members (active, counted once per chapter), hubs and published events
    per chapter: one grouped query for each number."""
    chapters = list(db.session.scalars(select(Chapter).order_by(Chapter.code)))
    members = {row[0]: row[1] for row in db.session.execute(
        select(Hub.chapter_id, func.count(distinct(Membership.user_id)))
        .join(Membership, Membership.hub_id == Hub.id)
        .where(Membership.status == MembershipStatus.ACTIVE)
        .group_by(Hub.chapter_id)
    )}
    hubs = {row[0]: (row[1] or 0, row[2] or 0) for row in db.session.execute(
        select(Hub.chapter_id,
               func.sum(case((Hub.status == HubStatus.ACTIVE, 1), else_=0)),
               func.sum(case((Hub.status == HubStatus.PENDING, 1), else_=0)))
        .group_by(Hub.chapter_id)
    )}
    events = {row[0]: row[1] for row in db.session.execute(
        select(Hub.chapter_id, func.count(Event.id))
        .join(Event, Event.hub_id == Hub.id)
        .where(Event.status == EventStatus.PUBLISHED)
        .group_by(Hub.chapter_id)
    )}
    return [ChapterStats(chapter, int(members.get(chapter.id, 0)),
                         int(hubs.get(chapter.id, (0, 0))[0]),
                         int(hubs.get(chapter.id, (0, 0))[1]),
                         int(events.get(chapter.id, 0)))
            for chapter in chapters]


def _month_starts(now: datetime, months: int = 12) -> list[date]:
    year, month = now.year, now.month
    starts = []
    for _i in range(months):
        starts.append(date(year, month, 1))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return starts[::-1]


def rsvps_per_month(now: datetime | None = None) -> list[tuple[date, int]]:
    """RSVPs made in each of the last 12 calendar months (UTC), oldest first,
    months without any included. Anonymised RSVPs still count."""
    months = _month_starts(now or utcnow())
    since = datetime.combine(months[0], time(0), tzinfo=UTC)
    year = extract("year", Rsvp.created_at)
    month = extract("month", Rsvp.created_at)
    counts = {
        (int(y), int(m)): int(n)
        for y, m, n in db.session.execute(
            select(year, month, func.count(Rsvp.id))
            .where(Rsvp.created_at >= since).group_by(year, month)
        )
    }
    return [(start, counts.get((start.year, start.month), 0)) for start in months]


def month_label(start: date) -> str:
    return format_date(start, "MMM yyyy")


def rsvp_chart_svg(data: list[tuple[date, int]]) -> bytes:
    """A bar chart of ``data`` as a standalone SVG document, built with
    ElementTree (which escapes every text). No script, no external resource."""
    width, height, top, bottom, left = 720, 260, 20, 40, 40
    plot_height = height - top - bottom
    peak = max((n for _m, n in data), default=0) or 1
    slot = (width - left) / max(len(data), 1)
    svg = ET.Element("svg", {
        "xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {width} {height}",
        "width": str(width), "height": str(height), "role": "img",
        "aria-labelledby": "chart-title chart-desc",
    })
    title = ET.SubElement(svg, "title", {"id": "chart-title"})
    title.text = _("RSVPs per month over the last 12 months")
    desc = ET.SubElement(svg, "desc", {"id": "chart-desc"})
    desc.text = join_list(
        _("%(month)s: %(count)s", month=month_label(m), count=n) for m, n in data)
    axis = ET.SubElement(svg, "line", {
        "x1": str(left), "y1": str(top + plot_height), "x2": str(width),
        "y2": str(top + plot_height), "stroke": "#444", "stroke-width": "1"})
    del axis
    peak_label = ET.SubElement(svg, "text", {
        "x": str(left - 6), "y": str(top + 10), "text-anchor": "end",
        "font-size": "12", "fill": "#333"})
    peak_label.text = str(peak)
    for index, (month, count) in enumerate(data):
        bar_height = round(plot_height * count / peak)
        x = left + index * slot + slot * 0.15
        group = ET.SubElement(svg, "g")
        tip = ET.SubElement(group, "title")
        tip.text = _("%(month)s: %(count)s", month=month_label(month), count=count)
        ET.SubElement(group, "rect", {
            "x": f"{x:.1f}", "y": str(top + plot_height - bar_height),
            "width": f"{slot * 0.7:.1f}", "height": str(bar_height), "fill": "#1f5f8b"})
        label = ET.SubElement(group, "text", {
            "x": f"{x + slot * 0.35:.1f}", "y": str(height - bottom + 16),
            "text-anchor": "middle", "font-size": "11", "fill": "#333"})
        label.text = format_date(month, "MMM")
        if count:
            value = ET.SubElement(group, "text", {
                "x": f"{x + slot * 0.35:.1f}", "y": str(top + plot_height - bar_height - 4),
                "text-anchor": "middle", "font-size": "11", "fill": "#333"})
            value.text = str(count)
    return ET.tostring(svg, encoding="utf-8", xml_declaration=True)


# --- people ------------------------------------------------------------------

def user_by_public_id(public_id: str) -> User | None:
    if not is_public_id(public_id):
        return None
    return db.session.scalar(select(User).where(User.public_id == public_id))


def _name_or_address(query: str):
    """Display name containing ``query`` (any case), or the email address equal
    to it: addresses are encrypted, so only an exact address (any case) is found,
    through the blind index (R40)."""
    pattern = f"%{escape_like(query.lower())}%"
    return (func.lower(User.display_name).like(pattern, escape="\\")
            | (User.email_index == blind_index(query)))


def search_users(query: str = "", page: int = 1, per_page: int = USERS_PER_PAGE) -> Page:
    """People whose display name contains ``query`` or whose address is
    ``query`` (any case), by name."""
    where = []
    query = (query or "").replace("\x00", "").strip()
    if query:
        where.append(_name_or_address(query))
    return paginate(
        select(User).where(*where).order_by(func.lower(User.display_name), User.id),
        count=select(func.count()).select_from(User).where(*where),
        page=page, per_page=per_page)


def memberships_of(user: User) -> list[Membership]:
    return list(db.session.scalars(
        select(Membership).join(Hub).where(Membership.user_id == user.id)
        .order_by(Hub.slug)))


def chapter_roles_of(user: User) -> list[ChapterRole]:
    return list(db.session.scalars(
        select(ChapterRole).join(Chapter).where(ChapterRole.user_id == user.id)
        .order_by(Chapter.code)))


def _disable(user: User) -> int:
    user.disabled_at = utcnow()
    # R24: a disabled account keeps no session anywhere.
    return end_other_sessions(user)


@atomic
def disable(actor: User, user: User) -> int:
    """Disable ``user``'s account and end every session; returns how many ended."""
    if user.id == actor.id:
        raise AdminError(_("You cannot disable your own account here."))
    if user.disabled_at is not None:
        raise AdminError(_("This account is already disabled."))
    ended = _disable(user)
    audit.record(actor, "admin.disable", "user", user.public_id, subject_user=user,
                 detail=f"sessions={ended}")
    return ended


@atomic
def enable(actor: User, user: User) -> None:
    if user.disabled_at is None:
        raise AdminError(_("This account is not disabled."))
    user.disabled_at = None
    audit.record(actor, "admin.enable", "user", user.public_id, subject_user=user)


def _active_admin_ids() -> list[int]:
    # Locked on PostgreSQL, so two admins revoking each other at once cannot
    # leave the site with none.
    return list(db.session.scalars(
        select(User.id).where(User.is_site_admin.is_(True), User.disabled_at.is_(None))
        .order_by(User.id).with_for_update()))


@atomic
def grant_admin(actor: User, user: User) -> None:
    if user.is_site_admin:
        raise AdminError(_("This person is already a site admin."))
    if user.disabled_at is not None:
        raise AdminError(_("Enable this account before making it a site admin."))
    if not user.totp_secret:
        raise AdminError(_("This person must turn on two-factor authentication before "
                           "they can become a site admin."))
    user.is_site_admin = True
    audit.record(actor, "admin.grant", "user", user.public_id, subject_user=user)


@atomic
def revoke_admin(actor: User, user: User) -> None:
    if not user.is_site_admin:
        raise AdminError(_("This person is not a site admin."))
    admins = _active_admin_ids()
    if user.id in admins and len(admins) <= 1:
        raise AdminError(_("This is the last site admin. Make someone else an admin first."))
    user.is_site_admin = False
    audit.record(actor, "admin.revoke", "user", user.public_id, subject_user=user)


# --- scope -------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """Which part of the site a reader of reports or the audit trail oversees:
    one hub (its leads), one chapter and its hubs (its coordinators), or, with
    no scope at all, everything (site admins)."""

    hub_id: int | None = None
    chapter_id: int | None = None

    @classmethod
    def of_hub(cls, hub: Hub) -> Scope:
        return cls(hub_id=hub.id)

    @classmethod
    def of_chapter(cls, chapter: Chapter) -> Scope:
        return cls(chapter_id=chapter.id)

    def where(self, model) -> list:
        """Conditions limiting ``model`` (Report or AuditEntry) to this scope."""
        if self.hub_id is not None:
            return [model.hub_id == self.hub_id]
        if self.chapter_id is not None:
            hubs = select(Hub.id).where(Hub.chapter_id == self.chapter_id)
            return [(model.chapter_id == self.chapter_id) | model.hub_id.in_(hubs)]
        return []


def _scoped(scope: Scope | None, model) -> list:
    return [] if scope is None else scope.where(model)


# --- audit trail -------------------------------------------------------------

@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    actor_name: str | None
    subject_name: str | None


def audit_actions(scope: Scope | None = None) -> list[str]:
    return list(db.session.scalars(
        select(AuditEntry.action).where(*_scoped(scope, AuditEntry))
        .distinct().order_by(AuditEntry.action)))


def _audit_query(actor_name: str = "", action: str = "", since: date | None = None,
                 until: date | None = None, scope: Scope | None = None):
    actor = aliased(User)
    subject = aliased(User)
    stmt = (select(AuditEntry, actor.display_name, subject.display_name)
            .outerjoin(actor, AuditEntry.actor_id == actor.id)
            .outerjoin(subject, AuditEntry.subject_user_id == subject.id)
            .where(*_scoped(scope, AuditEntry)))
    if actor_name:
        pattern = f"%{escape_like(actor_name.lower())}%"
        stmt = stmt.where(func.lower(actor.display_name).like(pattern, escape="\\"))
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if since is not None:
        stmt = stmt.where(AuditEntry.created_at
                          >= datetime.combine(since, time(0), tzinfo=UTC))
    if until is not None and until < date.max:  # 9999-12-31: no end, not an overflow
        stmt = stmt.where(AuditEntry.created_at
                          < datetime.combine(until + timedelta(days=1), time(0),
                                             tzinfo=UTC))
    return stmt


def audit_log(*, page: int = 1, per_page: int = AUDIT_PER_PAGE, **filters) -> Page:
    """Every audit entry matching the filters (and ``scope``, if given), newest first."""
    stmt = _audit_query(**filters)
    return paginate(stmt.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()),
                    count=count_of(stmt), page=page, per_page=per_page,
                    rows=True).map(lambda row: AuditRow(*row))


def audit_csv(**filters) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("When (UTC)"), _("Who"), _("Action"), _("Target type"),
                     _("Target"), _("About"), _("Detail")])
    rows = db.session.execute(
        _audit_query(**filters)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(CSV_LIMIT))
    for entry, actor_name, subject_name in rows:
        writer.writerow([csv_cell(cell) for cell in (
            entry.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            actor_name if actor_name is not None else _("deleted member"),
            describe(entry.action), entry.target_type, entry.target_id,
            subject_name or "", entry.detail)])
    return out.getvalue()


# --- reports -----------------------------------------------------------------

@dataclass(frozen=True)
class ReportRow:
    report: Report
    reporter_name: str | None
    target: object | None
    author: User | None


_TARGET_MODELS = {
    ReportTarget.EVENT: Event,
    ReportTarget.UPDATE: Update,
    ReportTarget.COMMENT: Comment,
    ReportTarget.USER: User,
}


def _targets(reports: Iterable[Report]) -> dict[tuple[ReportTarget, str], object]:
    """The reported records, one query per kind."""
    wanted: dict[ReportTarget, set[str]] = {}
    for report in reports:
        wanted.setdefault(report.target_type, set()).add(report.target_public_id)
    found = {}
    for kind, ids in wanted.items():
        model = _TARGET_MODELS[kind]
        for obj in db.session.scalars(select(model).where(model.public_id.in_(ids))):
            found[(kind, obj.public_id)] = obj
    return found


def author_of(report: Report, target) -> User | None:
    if target is None:
        return None
    if report.target_type is ReportTarget.USER:
        return target
    author_id = (target.created_by_id if report.target_type is ReportTarget.EVENT
                 else target.author_id)
    return db.session.get(User, author_id) if author_id is not None else None


def open_reports(page: int = 1, per_page: int = REPORTS_PER_PAGE,
                 scope: Scope | None = None) -> Page:
    """Open reports (within ``scope``, if given), oldest first, with the
    reporter's name (moderators only)."""
    where = [Report.status == ReportStatus.OPEN, *_scoped(scope, Report)]
    reporter = aliased(User)
    page = paginate(
        select(Report, reporter.display_name)
        .outerjoin(reporter, Report.reporter_id == reporter.id)
        .where(*where).order_by(Report.created_at, Report.id),
        count=select(func.count()).select_from(Report).where(*where),
        page=page, per_page=per_page, rows=True)
    targets = _targets(report for report, _name in page.items)

    def row(found) -> ReportRow:
        report, name = found
        target = targets.get((report.target_type, report.target_public_id))
        return ReportRow(report, name, target, author_of(report, target))

    return page.map(row)


def open_report(public_id: str, scope: Scope | None = None) -> Report | None:
    """The open report with this id, if it is within ``scope`` (when given)."""
    if not is_public_id(public_id):
        return None
    return db.session.scalar(select(Report).where(Report.public_id == public_id,
                                                  Report.status == ReportStatus.OPEN,
                                                  *_scoped(scope, Report)))


def _email(user: User | None, template: str, **context) -> None:
    if user is None:
        return
    try:
        queue_templated_email(to_address=user.email, locale=user.locale, template=template,
                              user_id=user.id, display_name=user.display_name, **context)
    except InvalidRecipient:
        pass


@atomic
def resolve_report(actor: User, report: Report, action: str, reason: str, *,
                   may_disable: bool = True) -> None:
    """Dismiss, hide, warn or disable; record it once and tell the reporter.
    Hub leads and coordinators pass ``may_disable=False``: only site admins
    disable accounts."""
    if report.status is not ReportStatus.OPEN:
        raise AdminError(_("This report has already been dealt with."))
    if action == "disable" and not may_disable:
        raise AdminError(_("Choose one of the decisions."))
    target = _targets([report]).get((report.target_type, report.target_public_id))
    author = author_of(report, target)
    now = utcnow()
    if action == "hide":
        if isinstance(target, Comment):
            target.hidden_at = now
            target.hidden_reason = reason[:500]
            target.hidden_by_id = actor.id
        elif isinstance(target, Update):
            target.status = UpdateStatus.DRAFT
        elif isinstance(target, Event):
            target.status = EventStatus.DRAFT
        else:
            raise AdminError(_("There is no content to hide for this report."))
    elif action == "warn":
        if author is None:
            raise AdminError(_("The author's account no longer exists."))
        _email(author, "moderation_warning", reason=reason)
    elif action == "disable":
        if author is None:
            raise AdminError(_("The author's account no longer exists."))
        if author.id == actor.id:
            raise AdminError(_("You cannot disable your own account here."))
        if author.disabled_at is None:
            _disable(author)
    elif action != "dismiss":
        raise AdminError(_("Choose one of the decisions."))
    report.status = ReportStatus.DISMISSED if action == "dismiss" else ReportStatus.ACTIONED
    report.resolution = f"{action}: {reason}"
    report.resolved_by_id = actor.id
    report.resolved_at = now
    hub = db.session.get(Hub, report.hub_id) if report.hub_id is not None else None
    audit.record(actor, f"report.{action}", "report", report.public_id, hub=hub,
                 chapter=report.chapter_id if hub is None else None,
                 subject_user=author if action in ("warn", "disable") else None,
                 detail=reason)
    if report.reporter_id is not None:
        _email(db.session.get(User, report.reporter_id), "moderation_outcome",
               actioned=action != "dismiss")



# --- chapters ----------------------------------------------------------------

HUBS_PER_PAGE = 50
SEARCH_LIMIT = 20


class FieldError(AdminError):
    """A refusal that belongs to one form field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def chapters() -> list[Chapter]:
    return list(db.session.scalars(select(Chapter).order_by(Chapter.code)))


def coordinators(chapter: Chapter) -> list[User]:
    return list(db.session.scalars(
        select(User).join(ChapterRole, ChapterRole.user_id == User.id)
        .where(ChapterRole.chapter_id == chapter.id)
        .order_by(func.lower(User.display_name), User.id)))


def coordinator_counts() -> dict[int, int]:
    return {row[0]: int(row[1]) for row in db.session.execute(
        select(ChapterRole.chapter_id, func.count(ChapterRole.id))
        .group_by(ChapterRole.chapter_id))}


def _two_factor_needed(user: User) -> bool:
    return not user.totp_secret and current_app.config.get("TWO_FACTOR_REQUIRED_FOR_STAFF", True)


@atomic
def create_chapter(actor: User, *, code: str, name_en: str, name_zh: str,
                   default_timezone: str) -> Chapter:
    """Add a chapter; a code already in use is a FieldError on ``code``."""
    taken = _("A chapter with this code already exists.")
    if db.session.scalar(select(Chapter.id).where(Chapter.code == code)) is not None:
        raise FieldError("code", taken)
    chapter = Chapter(code=code, name_en=name_en, name_zh=name_zh,
                      default_timezone=default_timezone)
    try:
        # Two admins adding the same code at once: the unique index decides.
        with db.session.begin_nested():
            db.session.add(chapter)
            db.session.flush()
    except IntegrityError:
        raise FieldError("code", taken) from None
    audit.record(actor, "admin.chapter_create", "chapter", chapter.code, chapter=chapter,
                 detail=f"{name_en} / {name_zh} / {default_timezone}")
    return chapter


@atomic
def edit_chapter(actor: User, chapter: Chapter, *, name_en: str, name_zh: str,
                 default_timezone: str) -> None:
    changes = [f"{field}: {getattr(chapter, field)} -> {value}" for field, value in
               (("name_en", name_en), ("name_zh", name_zh),
                ("default_timezone", default_timezone))
               if getattr(chapter, field) != value]
    if not changes:
        raise AdminError(_("Nothing has changed."))
    chapter.name_en, chapter.name_zh = name_en, name_zh
    chapter.default_timezone = default_timezone
    audit.record(actor, "admin.chapter_edit", "chapter", chapter.code, chapter=chapter,
                 detail="; ".join(changes))


def coordinator_candidates(chapter: Chapter, query: str) -> list[User]:
    """Up to SEARCH_LIMIT people matching ``query`` (name or email), not yet
    coordinators of ``chapter``."""
    query = (query or "").replace("\x00", "").strip()
    if not query:
        return []
    already = select(ChapterRole.user_id).where(ChapterRole.chapter_id == chapter.id)
    return list(db.session.scalars(
        select(User).where(_name_or_address(query), User.id.not_in(already))
        .order_by(func.lower(User.display_name), User.id).limit(SEARCH_LIMIT)))


@atomic
def appoint_coordinator(actor: User, chapter: Chapter, user: User) -> None:
    name = user.display_name
    if user.disabled_at is not None:
        raise AdminError(_("%(name)s's account is disabled.", name=name))
    if not user.is_verified:
        raise AdminError(_("%(name)s has not confirmed their email address yet.", name=name))
    if _two_factor_needed(user):
        raise AdminError(_("%(name)s must turn on two-factor authentication before they "
                           "can be a coordinator. They can do it under Security in their "
                           "account.", name=name))
    if db.session.scalar(select(ChapterRole.id).where(
            ChapterRole.chapter_id == chapter.id, ChapterRole.user_id == user.id)) is not None:
        raise AdminError(_("%(name)s is already a coordinator of this chapter.", name=name))
    db.session.add(ChapterRole(user_id=user.id, chapter_id=chapter.id,
                               role=ChapterRoleKind.COORDINATOR))
    audit.record(actor, "admin.coordinator_appoint", "user", user.public_id, chapter=chapter,
                 subject_user=user, detail=chapter.code)
    db.session.flush()


@atomic
def remove_coordinator(actor: User, chapter: Chapter, user: User) -> None:
    deleted = db.session.execute(
        delete(ChapterRole).where(ChapterRole.chapter_id == chapter.id,
                                  ChapterRole.user_id == user.id),
        execution_options={"synchronize_session": False}).rowcount
    if not deleted:
        raise AdminError(_("%(name)s is not a coordinator of this chapter.",
                           name=user.display_name))
    db.session.expire(chapter, ["roles"])
    audit.record(actor, "admin.coordinator_remove", "user", user.public_id, chapter=chapter,
                 subject_user=user, detail=chapter.code)


# --- hubs --------------------------------------------------------------------

HUB_SLUG = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


@dataclass(frozen=True)
class HubRow:
    hub: Hub
    leads: list[str]


def hub_by_slug(slug: str) -> Hub | None:
    if not isinstance(slug, str) or not HUB_SLUG.match(slug):
        return None
    return db.session.scalar(select(Hub).where(Hub.slug == slug))


def list_hubs(*, chapter_code: str = "", status: str = "", page: int = 1,
              per_page: int = HUBS_PER_PAGE) -> Page:
    """Hubs by chapter and slug, with their active leads' names (one query each)."""
    where = []
    if chapter_code:
        where.append(Chapter.code == chapter_code)
    if status:
        where.append(Hub.status == HubStatus(status))
    base = select(Hub).join(Chapter, Hub.chapter_id == Chapter.id).where(*where)
    page = paginate(base.options(joinedload(Hub.chapter)).order_by(Chapter.code, Hub.slug),
                    count=count_of(base), page=page, per_page=per_page)
    hubs = page.items
    leads: dict[int, list[str]] = {}
    if hubs:
        for hub_id, name in db.session.execute(
                select(Membership.hub_id, User.display_name)
                .join(User, Membership.user_id == User.id)
                .where(Membership.hub_id.in_([hub.id for hub in hubs]),
                       Membership.status == MembershipStatus.ACTIVE,
                       Membership.role == MemberRole.LEAD)
                .order_by(func.lower(User.display_name))):
            leads.setdefault(hub_id, []).append(name)
    return page.map(lambda hub: HubRow(hub, leads.get(hub.id, [])))


@atomic
def archive_hub(actor: User, hub: Hub) -> None:
    if hub.status is not HubStatus.ACTIVE:
        raise AdminError(_("Only an active hub can be archived."))
    hub.status = HubStatus.ARCHIVED
    audit.record(actor, "admin.hub_archive", "hub", hub.slug, hub=hub)


@atomic
def restore_hub(actor: User, hub: Hub) -> None:
    if hub.status is not HubStatus.ARCHIVED:
        raise AdminError(_("Only an archived hub can be restored."))
    hub.status = HubStatus.ACTIVE
    audit.record(actor, "admin.hub_restore", "hub", hub.slug, hub=hub)


def active_members_of(hub: Hub) -> list[Membership]:
    return list(db.session.scalars(
        select(Membership).options(joinedload(Membership.user))
        .join(User, Membership.user_id == User.id)
        .where(Membership.hub_id == hub.id, Membership.status == MembershipStatus.ACTIVE)
        .order_by(func.lower(User.display_name), Membership.id)))


@atomic
def change_lead(actor: User, hub: Hub, public_id: str) -> Membership:
    """Make the hub's active member with this membership id its lead; the
    leads before them become organisers. One audit entry."""
    if hub.status not in (HubStatus.ACTIVE, HubStatus.ARCHIVED):
        raise AdminError(_("Only an active or archived hub has a lead to change."))
    membership = None
    if is_public_id(public_id):
        membership = db.session.scalar(
            select(Membership).options(joinedload(Membership.user))
            .where(Membership.public_id == public_id, Membership.hub_id == hub.id,
                   Membership.status == MembershipStatus.ACTIVE))
    if membership is None:
        raise FieldError("member", _("Choose one of the hub's active members."))
    name = membership.user.display_name
    if membership.role is MemberRole.LEAD:
        raise FieldError("member", _("%(name)s is already this hub's lead.", name=name))
    if membership.user.disabled_at is not None:
        raise FieldError("member", _("%(name)s's account is disabled.", name=name))
    if _two_factor_needed(membership.user):
        raise FieldError("member", _("%(name)s must turn on two-factor authentication "
                                     "before they can be a lead. They can do it under "
                                     "Security in their account.", name=name))
    previous = list(db.session.scalars(
        select(Membership).where(Membership.hub_id == hub.id,
                                 Membership.status == MembershipStatus.ACTIVE,
                                 Membership.role == MemberRole.LEAD)
        .with_for_update()))
    for old in previous:
        old.role = MemberRole.ORGANISER
    membership.role = MemberRole.LEAD
    audit.record(actor, "admin.hub_lead", "membership", membership.public_id, hub=hub,
                 subject_user=membership.user,
                 detail="previous=" + (",".join(m.public_id for m in previous) or "none"))
    db.session.flush()
    return membership
