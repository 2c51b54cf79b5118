"""Numbered pages of a list, and the ``?page=`` number that picks one.

Flask-SQLAlchemy's ``db.paginate`` is not used: it answers a page past the end
with an empty page, while ours show the last page, and it reads only the
first column of each row, while several lists here select rows of several
columns (an audit entry with its actor's name).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from flask import request
from sqlalchemy import Select, func, select

from community.extensions import db

PAGE_ARG_LIMIT = 1_000_000
# Long public lists count no further than this ("more than 1,000 events"): the count
# then costs the same however many rows there are; past the last numbered page a
# "later" link carries on by keyset (paginate_capped).
COUNT_CAP = 1000


def int_arg(name: str, default: int = 1) -> int:
    """A positive integer query parameter; anything else falls back to ``default``."""
    try:
        value = int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default
    return value if 0 < value < PAGE_ARG_LIMIT else default


@dataclass(frozen=True)
class Page:
    """One page of a list: its ``items``, its ``number`` (from 1), how many
    ``pages`` there are (at least one, even for an empty list) and the
    ``total`` number of items."""

    items: list
    number: int
    pages: int
    total: int
    # paginate_capped: ``total`` stopped at the cap (there are more), and the cursor
    # for the page of later items when there is one past the numbered pages.
    capped: bool = False
    later: str | None = None

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    def map(self, make: Callable) -> Page:
        """The same page with ``make(item)`` for each item."""
        return replace(self, items=[make(item) for item in self.items])


def count_of(stmt: Select) -> Select:
    """A statement counting the rows ``stmt`` selects."""
    return select(func.count()).select_from(stmt.subquery())


def paginate(stmt: Select, *, count: Select, page: int, per_page: int,
             rows: bool = False) -> Page:
    """Page ``page`` of what the ordered ``stmt`` selects, ``per_page`` at a time.

    ``count`` counts the whole list (``count_of(stmt)`` before ordering and
    loader options, or a cheaper count of the same rows); it runs first, and a
    page number out of range becomes the first or the last page. With
    ``rows`` the items are whole result rows, else the first column's values.
    """
    total = db.session.scalar(count) or 0
    pages = max(1, -(-total // per_page))
    number = min(max(1, page), pages)
    window = stmt.offset((number - 1) * per_page).limit(per_page)
    items = (db.session.execute(window).all() if rows
             else list(db.session.scalars(window)))
    return Page(items, number, pages, total)


def paginate_capped(stmt: Select, *, count: Select, page: int, per_page: int,
                    cursor: Callable | None = None, keyed: bool = False,
                    cap: int | None = None) -> Page:
    """Like ``paginate``, for long public lists: ``count`` (a statement of one
    column selecting the rows, unordered) is counted only up to ``cap``, and the
    numbered pages stop there.

    ``cursor(item)`` makes the keyset cursor of an item: the last page of the
    numbered ones, and a keyed page (``keyed``: ``stmt`` already starts after a
    cursor, so it shows its first ``per_page`` items), offer ``later``, the cursor
    to pass on, when more items follow. Every statement reads at most about
    ``cap + per_page`` index entries, on page 1 as on page 500.
    """
    cap = cap or COUNT_CAP
    if keyed:
        rows = list(db.session.scalars(stmt.limit(per_page + 1)))
        later = cursor(rows[per_page - 1]) if cursor and len(rows) > per_page else None
        return Page(rows[:per_page], 0, 0, cap, capped=True, later=later)
    total = db.session.scalar(
        select(func.count()).select_from(count.limit(cap + 1).subquery())) or 0
    capped = total > cap
    total = min(total, cap)
    pages = max(1, -(-total // per_page))
    number = min(max(1, page), pages)
    last = number == pages and capped
    window = stmt.offset((number - 1) * per_page).limit(per_page + (1 if last else 0))
    items = list(db.session.scalars(window))
    later = None
    if last and len(items) > per_page and cursor:
        items = items[:per_page]
        later = cursor(items[-1])
    return Page(items[:per_page], number, pages, total, capped=capped, later=later)
