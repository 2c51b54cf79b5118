"""Queries behind the public pages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from community.database import utcnow
from community.events.models import Event, upcoming_clause
from community.extensions import db
from community.hubs.models import Chapter, Hub
from community.permissions import listed_hub_clause, public_event_clause


def upcoming_public_events(limit: int = 12) -> list[Event]:
    """Published public events of listed, active hubs that have not ended, soonest first
    (ix_events_listing)."""
    now = utcnow()
    stmt = (
        select(Event)
        .join(Event.hub)
        .join(Hub.chapter)
        .options(contains_eager(Event.hub).contains_eager(Hub.chapter))
        .where(public_event_clause(), upcoming_clause(now))
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def listed_hubs_by_chapter() -> list[tuple[Chapter, list[Hub]]]:
    """Every chapter with its listed, active hubs, in two queries."""
    chapters = list(db.session.scalars(select(Chapter).order_by(Chapter.name_en)))
    hubs = db.session.scalars(
        select(Hub).where(listed_hub_clause()).order_by(Hub.name_en)
    )
    by_chapter: dict[int, list[Hub]] = {c.id: [] for c in chapters}
    for hub in hubs:
        by_chapter.setdefault(hub.chapter_id, []).append(hub)
    return [(c, by_chapter[c.id]) for c in chapters]
