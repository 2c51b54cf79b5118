"""Imports every model module so the metadata (and Alembic) sees all tables."""

from community.admin.models import Report
from community.audit_models import AuditEntry
from community.auth.models import RecoveryCode, User, UserSession
from community.events.attendees.access_models import ListAccessRequest
from community.events.door.models import DoorStaff
from community.events.models import Event, Rsvp
from community.hubs.models import Chapter, ChapterRole, Hub, Invite, Membership
from community.hubs.vouching.models import Vouch
from community.outbox_models import OutboxEmail, Publication
from community.updates.models import Comment, Update

__all__ = [
    "AuditEntry",
    "Chapter",
    "ChapterRole",
    "Comment",
    "DoorStaff",
    "Event",
    "Hub",
    "Invite",
    "ListAccessRequest",
    "Membership",
    "OutboxEmail",
    "Publication",
    "RecoveryCode",
    "Report",
    "Rsvp",
    "Update",
    "User",
    "UserSession",
    "Vouch",
]
