"""Update and comment rules: who may post, see, comment, hide and report.

Everything a viewer may not see answers as if it did not exist (R8), so the
lookups here return None rather than raising; the routes turn that into 404.
Every change is added to ``db.session`` with its audit entry and flushed; the
route commits once.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from community import audit, notifications
from community.admin.models import Report, ReportTarget
from community.database import is_public_id, utcnow
from community.errors import DomainError
from community.extensions import db
from community.hubs.models import Chapter, Hub
from community.permissions import (
    comments_as_hub,
    is_chapter_staff,
    is_member_for_update,
    may_manage_update,
    update_visible,
)
from community.transaction import atomic
from community.updates.models import (
    Comment,
    Update,
    UpdateAudience,
    UpdateRevision,
    UpdateStatus,
)


class UpdateError(DomainError):
    """An update or comment rule refused the request; ``message`` is translated,
    ``field`` names the form field it concerns, if any."""


@dataclass(frozen=True)
class UpdateContent:
    """What an organiser writes: the form's fields and nothing else (R10)."""

    title_en: str
    title_zh: str
    body_en: str
    body_zh: str
    audience: UpdateAudience
    pinned: bool
    allow_comments: bool


# --- lookups and permissions -------------------------------------------------------

def _signed_in(user) -> bool:
    return user is not None and user.is_authenticated


def _by_public_id(model, public_id: str):
    if not is_public_id(public_id):
        return None
    return db.session.scalar(select(model).where(model.public_id == public_id))


# The rules are in community.permissions; these names are what routes and
# templates here call them.
may_post_for_chapter = is_chapter_staff
may_manage = may_manage_update
is_member_for = is_member_for_update
may_view = update_visible


def visible_update(public_id: str, user) -> Update | None:
    """The update if ``user`` may see it; None for a missing one and a hidden one alike."""
    update = _by_public_id(Update, public_id)
    if update is None or not may_view(user, update):
        return None
    return update


def managed_update(public_id: str, user) -> Update | None:
    """The update if ``user`` may edit and publish it, else None."""
    update = _by_public_id(Update, public_id)
    if update is None or not may_manage(user, update):
        return None
    return update


def visible_comment(public_id: str, user) -> Comment | None:
    """The comment if ``user`` may see the update it belongs to, else None."""
    comment = _by_public_id(Comment, public_id)
    if comment is None or not may_view(user, comment.update):
        return None
    return comment


def comments_open(update: Update) -> bool:
    return (update.status is UpdateStatus.PUBLISHED
            and update.audience is UpdateAudience.MEMBERS and update.allow_comments)


def comments_of(update: Update) -> list[Comment]:
    return list(db.session.scalars(
        select(Comment).where(Comment.update_id == update.id)
        .order_by(Comment.created_at, Comment.id)
    ))


def revisions_of(update: Update) -> list[UpdateRevision]:
    return list(db.session.scalars(
        select(UpdateRevision).where(UpdateRevision.update_id == update.id)
        .order_by(UpdateRevision.edited_at.desc(), UpdateRevision.id.desc())
    ))


# --- updates -----------------------------------------------------------------------

def _owner(update: Update) -> dict:
    return {"hub": update.hub} if update.hub is not None else {"chapter": update.chapter}


def _check(content: UpdateContent) -> None:
    if not (content.title_en or content.title_zh):
        raise UpdateError(_("Give the update a title in at least one language."), "title_en")
    if not (content.body_en or content.body_zh):
        raise UpdateError(_("Write the update in at least one language."), "body_en")


def _apply(update: Update, content: UpdateContent) -> None:
    update.title_en = content.title_en
    update.title_zh = content.title_zh
    # Markdown source only: it is sanitised when shown (R33), never stored as HTML.
    update.body_en = content.body_en
    update.body_zh = content.body_zh
    update.audience = content.audience
    update.pinned = content.pinned
    # Comments exist only on members-only updates.
    update.allow_comments = content.allow_comments and content.audience is UpdateAudience.MEMBERS


@atomic
def create_update(user, content: UpdateContent, *, hub: Hub | None = None,
                  chapter: Chapter | None = None, publish: bool = False) -> Update:
    """A new update by ``user`` for exactly one hub or chapter, as a draft or published.
    The caller has checked that ``user`` may post there. Raises UpdateError."""
    _check(content)
    update = Update(hub=hub, chapter=chapter if hub is None else None, author_id=user.id,
                    status=UpdateStatus.DRAFT)
    _apply(update, content)
    if publish:
        update.status = UpdateStatus.PUBLISHED
        update.published_at = utcnow()
    db.session.add(update)
    db.session.flush()
    audit.record(user, "update.create", "update", update.public_id, **_owner(update),
                 detail="published" if publish else "draft")
    if publish:
        audit.record(user, "update.publish", "update", update.public_id, **_owner(update))
        notifications.announce("update", update.id)
    db.session.flush()
    return update


@atomic
def edit_update(user, update: Update, content: UpdateContent) -> UpdateRevision:
    """Change an update, keeping what it said before in a revision with who and when.
    Raises UpdateError."""
    if not may_manage(user, update):
        raise UpdateError(_("You may not edit this update."))
    _check(content)
    revision = UpdateRevision(update_id=update.id, editor_id=user.id,
                              title_en=update.title_en, title_zh=update.title_zh,
                              body_en=update.body_en, body_zh=update.body_zh)
    db.session.add(revision)
    _apply(update, content)
    audit.record(user, "update.edit", "update", update.public_id, **_owner(update))
    db.session.flush()
    return revision


@atomic
def publish_update(user, update: Update) -> None:
    """Publish a draft. Raises UpdateError if it is published already."""
    if not may_manage(user, update):
        raise UpdateError(_("You may not publish this update."))
    if update.status is UpdateStatus.PUBLISHED:
        raise UpdateError(_("This update is published already."))
    update.status = UpdateStatus.PUBLISHED
    update.published_at = utcnow()
    audit.record(user, "update.publish", "update", update.public_id, **_owner(update))
    notifications.announce("update", update.id)
    db.session.flush()


# --- comments ----------------------------------------------------------------------

@atomic
def add_comment(user, update: Update, body: str) -> Comment:
    """A member's plain-text comment. Raises UpdateError where comments are not open."""
    if update.audience is UpdateAudience.PUBLIC:
        raise UpdateError(_("Public updates do not take comments."), "body")
    if not comments_open(update):
        raise UpdateError(_("Comments are turned off for this update."), "body")
    if not is_member_for(user, update):
        raise UpdateError(_("Only members of the hub can comment."), "body")
    comment = Comment(update_id=update.id, author_id=user.id, body=body,
                      as_hub=comments_as_hub(user, update))
    db.session.add(comment)
    db.session.flush()
    return comment


def _own(user, comment: Comment) -> None:
    if not _signed_in(user) or comment.author_id != user.id:
        raise UpdateError(_("You can only change your own comments."))


@atomic
def edit_comment(user, comment: Comment, body: str) -> None:
    """Change one's own comment while comments are open and it is not hidden.
    Raises UpdateError."""
    _own(user, comment)
    if comment.hidden_at is not None:
        raise UpdateError(_("The organisers hid this comment, so it cannot be edited."), "body")
    if not comments_open(comment.update):
        raise UpdateError(_("Comments are turned off for this update."), "body")
    comment.body = body
    comment.edited_at = utcnow()
    db.session.flush()


def delete_comment(user, comment: Comment) -> None:
    """Delete one's own comment for good. Raises UpdateError for anyone else's."""
    _own(user, comment)
    db.session.delete(comment)
    db.session.flush()


@atomic
def hide_comment(user, comment: Comment, reason: str) -> None:
    """Organisers hide a comment with a reason its author is shown. Raises UpdateError."""
    if not may_manage(user, comment.update):
        raise UpdateError(_("Only the organisers can hide comments."))
    if comment.hidden_at is not None:
        raise UpdateError(_("This comment is hidden already."))
    comment.hidden_at = utcnow()
    comment.hidden_reason = reason
    comment.hidden_by_id = user.id
    audit.record(user, "comment.hide", "comment", comment.public_id,
                 **_owner(comment.update), detail=reason)
    db.session.flush()


# --- reports -----------------------------------------------------------------------

@atomic
def report(user, target: Update | Comment, reason: str) -> Report:
    """A member's report of an update or comment, for the moderators of its hub or
    chapter. Raises UpdateError if ``user`` is not signed in."""
    if not _signed_in(user):
        raise UpdateError(_("Please sign in to report something."))
    update = target if isinstance(target, Update) else target.update
    kind = ReportTarget.UPDATE if isinstance(target, Update) else ReportTarget.COMMENT
    entry = Report(
        reporter_id=user.id, target_type=kind, target_public_id=target.public_id,
        hub_id=update.hub_id,
        chapter_id=update.hub.chapter_id if update.hub is not None else update.chapter_id,
        reason=reason,
    )
    db.session.add(entry)
    db.session.flush()
    return entry
