"""The audit trail (DESIGN §2 rule 8, R45): one helper to write an entry, and
the words each action is shown with.

``record`` adds an AuditEntry to the caller's session, so the entry commits
or rolls back with the change it describes, and so does its line in the
security log (written after the commit). It never reads the request: an
entry holds who, what, which record and when — never an IP address (R37).
"""

from __future__ import annotations

import re
import unicodedata
from functools import partial

from flask_babel import lazy_gettext as _l

from community.audit_models import AuditEntry
from community.extensions import db
from community.logs import security_event
from community.transaction import on_commit

__all__ = ["ACTION_LABELS", "describe", "describe_detail", "escape_detail", "record"]

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
    # The same fact in the JSON log stream (R45), by public ids only, once the
    # entry is committed: an action whose request rolls back is not logged.
    on_commit(partial(security_event, entry.action,
                      actor=getattr(actor, "public_id", None) or actor_pseudonym,
                      target_type=entry.target_type, target_id=entry.target_id))
    return entry


# --- details, as the audit page says them (issue 15: no machine text on the page) --

_COUNT = re.compile(r"^(?:list=(attendees|checkin) )?count=(\d+)$")
_MESSAGE = re.compile(r"^group=(\w+) recipients=(\d+)$")
_SESSIONS = re.compile(r"^sessions=(\d+)$")
_CHANGE = re.compile(r"^(\w+): (.*) -> (.*)$")
_STATUS_CHANGE = re.compile(r"^(\w+) ?-> ?(\w+)$")
_FIELD = re.compile(r"^[a-z][a-z_]*[a-z]$")


def _field_labels() -> dict[str, str]:
    """Each changed column's label as its form shows it."""
    from community.events.manage.forms import EventForm
    from community.hubs.settings.forms import HubSettingsForm

    labels: dict[str, str] = {}
    for form in (EventForm, HubSettingsForm):
        for name in dir(form):
            unbound = getattr(form, name, None)
            args = getattr(unbound, "args", None)
            if hasattr(unbound, "field_class") and args:
                labels[name] = str(args[0])
    labels.update({
        "starts_at": str(_l("Start")), "ends_at": str(_l("End")),
        "location_visibility": str(_l("Who sees the place")),
        "online_visibility": str(_l("Who sees the online link")),
        "location_reveal_at": labels.get("reveal_hours", "reveal_hours"),
        "default_timezone": str(_l("Time zone")),
    })
    return labels


def _value_label(value: str) -> str:
    from community.hubs.organise.forms import role_label
    from community.i18n import rsvp_status_label

    words = {"True": _l("on"), "False": _l("off"), "pending": _l("waiting"),
             "active": _l("active"), "public": _l("public"), "members": _l("members"),
             "attendees": _l("confirmed attendees"), "unlisted": _l("unlisted"),
             "listed": _l("listed"), "open": _l("open"), "approval": _l("approval"),
             "invite": _l("invitation only"), "hidden": _l("hidden"),
             "exact": _l("exact"), "range": _l("approximate")}
    if value in ("going", "waitlisted", "declined"):
        return rsvp_status_label(value)
    if value in ("member", "organiser", "lead"):
        return str(role_label(value))
    return str(words.get(value, value))


def describe_detail(action: str, detail: str) -> str:
    """An entry's detail in the current language where Harbour wrote it
    (counts, changed settings, status changes); people's own words (reasons)
    and values typed into forms are shown as written."""
    from flask_babel import gettext as _
    from flask_babel import ngettext

    from community.i18n import join_list

    detail = detail or ""
    if match := _COUNT.match(detail):
        kind, num = match.group(1), int(match.group(2))
        if kind == "checkin":
            return ngettext("Check-in list, %(num)d person", "Check-in list, %(num)d people", num)
        if kind == "attendees":
            return ngettext("Attendee list, %(num)d person", "Attendee list, %(num)d people", num)
        return ngettext("%(num)d person", "%(num)d people", num)
    if match := _MESSAGE.match(detail):
        return ngettext("To %(group)s: %(num)d person", "To %(group)s: %(num)d people",
                        int(match.group(2)), group=_value_label(match.group(1)))
    if match := _SESSIONS.match(detail):
        return ngettext("%(num)d session signed out", "%(num)d sessions signed out",
                        int(match.group(1)))
    if action == "update.create" and detail in ("published", "draft"):
        return _("Published") if detail == "published" else _("Draft")
    if action in ("rsvp.confirm", "rsvp.waitlist", "rsvp.decline", "member.role") and (
            match := _STATUS_CHANGE.match(detail)):
        return _("%(before)s to %(after)s", before=_value_label(match.group(1)),
                 after=_value_label(match.group(2)))
    if action == "hub.approve" and detail.startswith("pending -> active"):
        if "proposer made lead" in detail:
            return _("Approved; the person who proposed it is now its lead")
        return _("Approved")
    if action == "member.remove" and detail.startswith("role="):
        return _("Role was: %(role)s", role=_value_label(detail[5:]))
    if action == "member.notes" and detail == "cleared":
        return _("Notes cleared")
    if action in ("event.edit", "hub.settings", "hub.high_risk_on", "hub.high_risk_off",
                  "admin.chapter_edit"):
        labels = _field_labels()
        text = detail.removeprefix("changed: ")
        parts = [part.strip() for part in re.split(r"; |, ", text) if part.strip()]
        shown = []
        for part in parts:
            if match := _CHANGE.match(part):
                name, before, after = match.groups()
                if name not in labels:
                    return detail
                if action == "admin.chapter_edit":
                    shown.append(_("%(field)s: %(before)s to %(after)s", field=labels[name],
                                   before=before, after=after))
                else:
                    shown.append(_("%(field)s: %(before)s to %(after)s", field=labels[name],
                                   before=_value_label(before), after=_value_label(after)))
            elif _FIELD.match(part) and part in labels:
                shown.append(labels[part])
            else:
                return detail
        if shown:
            return _("Changed: %(fields)s", fields=join_list(shown))
    return detail
