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
