"""The audit trail (DESIGN §2 rule 8, R45): one helper to write an entry, and
the words each action is shown with.

``record`` adds an AuditEntry to the caller's session, so the entry commits
or rolls back with the change it describes. It never reads the request: an
entry holds who, what, which record and when — never an IP address (R37).
"""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l

from community.audit_models import AuditEntry
from community.extensions import db
from community.logs import security_event

__all__ = ["ACTION_LABELS", "describe", "escape_detail", "record"]

# The column sizes of AuditEntry.
ACTION_MAX_LENGTH = 64
TARGET_TYPE_MAX_LENGTH = 32
TARGET_ID_MAX_LENGTH = 64
DETAIL_MAX_LENGTH = 500

# An action as the audit page says it. Add yours beside the feature's first
# entry; an action without words here is shown by its code.
ACTION_LABELS = {
    "attendees.view": _l("Opened an attendee list"),
    "attendees.export": _l("Exported an attendee list"),
    "attendees.message": _l("Emailed attendees"),
    "rsvp.confirm": _l("Confirmed someone's place at an event"),
    "rsvp.waitlist": _l("Moved someone to an event's waiting list"),
    "rsvp.decline": _l("Declined someone's answer to an event"),
    "rsvp.checkin": _l("Checked someone in at an event"),
    "door.assign": _l("Made someone door staff of an event"),
    "door.remove": _l("Removed someone from an event's door staff"),
    "vouch.give": _l("Vouched for someone asking to join"),
    "attendees.request": _l("Asked a second organiser to open an attendee list"),
    "attendees.approve": _l("Agreed, as a second organiser, to an attendee list being opened"),
    "vouches.view": _l("Looked at who vouched for whom"),
    "admin.disable": _l("Disabled an account"),
    "admin.enable": _l("Enabled an account again"),
    "admin.grant": _l("Made someone a site admin"),
    "admin.create": _l("Created a site admin account on the command line"),
    "admin.revoke": _l("Removed someone's site admin rights"),
    "admin.chapter_create": _l("Added a chapter"),
    "admin.chapter_edit": _l("Edited a chapter"),
    "admin.coordinator_appoint": _l("Appointed a chapter coordinator"),
    "admin.coordinator_remove": _l("Removed a chapter coordinator"),
    "admin.hub_archive": _l("Archived a hub"),
    "admin.hub_restore": _l("Restored an archived hub"),
    "admin.hub_lead": _l("Changed a hub's lead"),
    "report.dismiss": _l("Dismissed a report"),
    "report.hide": _l("Hid reported content"),
    "report.warn": _l("Warned the author of reported content"),
    "report.disable": _l("Disabled the author of reported content"),
    "event.create": _l("Created an event"),
    "event.edit": _l("Edited an event"),
    "event.publish": _l("Published an event"),
    "event.cancel": _l("Cancelled an event"),
    "hub.approve": _l("Approved a hub"),
    "hub.decline": _l("Declined a hub"),
    "hub.settings": _l("Changed the hub's settings"),
    "hub.high_risk_on": _l("Turned the high-risk preset on"),
    "hub.high_risk_off": _l("Turned the high-risk preset off"),
    "invite.create": _l("Created an invite link"),
    "invite.revoke": _l("Revoked an invite link"),
    "update.create": _l("Wrote an update"),
    "update.edit": _l("Edited an update"),
    "update.publish": _l("Published an update"),
    "comment.hide": _l("Hid a comment"),
    "member.approve": _l("Approved a request to join"),
    "member.decline": _l("Declined a request to join"),
    "member.remove": _l("Removed a member"),
    "member.role": _l("Changed a member's role"),
    "member.notes": _l("Edited private notes about a member"),
}

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def describe(action: str) -> str:
    """The words for ``action`` in the current language, or the code itself."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def _escape_char(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
        return f"\\u{ord(ch):04x}"
    return ch


def escape_detail(text: str, limit: int = DETAIL_MAX_LENGTH) -> str:
    """``text`` on one line: backslash, CR, LF, tab and other control or line
    separator characters written as escapes, so that user-controlled text
    cannot forge a second entry in a line-based export (R45). Cut at
    ``limit`` characters without splitting an escape."""
    out: list[str] = []
    length = 0
    for ch in text or "":
        piece = _escape_char(ch)
        if length + len(piece) > limit:
            break
        out.append(piece)
        length += len(piece)
    return "".join(out)


def _checked(value: str, name: str, limit: int) -> str:
    value = str(value)
    if not value or len(value) > limit or any(_escape_char(ch) != ch for ch in value):
        raise ValueError(f"audit {name} must be 1 to {limit} printable characters")
    return value


def _user_id(user) -> int | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.id


def record(actor, action: str, target_type: str, target_id: str, *, hub=None, chapter=None,
           subject_user=None, detail: str = "", actor_pseudonym: str | None = None) -> AuditEntry:
    """Add one audit entry to ``db.session`` (not flushed, not committed).

    ``actor`` and ``subject_user`` are users or None (anonymous counts as
    None; a deleted account acts under ``actor_pseudonym``, R43). The chapter
    defaults to the hub's. ``detail`` is escaped onto one
    line and cut to fit. Raises ValueError for an empty, overlong or
    unprintable action, target type or target id — those come from code,
    not from people.
    """
    if chapter is not None:
        chapter_id = chapter if isinstance(chapter, int) else chapter.id
    else:
        chapter_id = hub.chapter_id if hub is not None else None
    entry = AuditEntry(
        actor_id=_user_id(actor),
        actor_pseudonym=actor_pseudonym,
        action=_checked(action, "action", ACTION_MAX_LENGTH),
        target_type=_checked(target_type, "target type", TARGET_TYPE_MAX_LENGTH),
        target_id=_checked(target_id, "target id", TARGET_ID_MAX_LENGTH),
        hub_id=hub.id if hub is not None else None,
        chapter_id=chapter_id,
        subject_user_id=_user_id(subject_user),
        detail=escape_detail(detail),
    )
    db.session.add(entry)
    # The same fact in the JSON log stream (R45), by public ids only; it says
    # what was attempted, as the entry may still roll back with its request.
    security_event(entry.action, actor=getattr(actor, "public_id", None) or actor_pseudonym,
                   target_type=entry.target_type, target_id=entry.target_id)
    return entry
