"""One transaction per request (DESIGN.md §7), modelled on indico's ``RH.process``.

- A request that may write (any method but GET, HEAD and OPTIONS, or a view
  marked ``@writes``) begins ``IMMEDIATE`` on SQLite, so writers queue on
  ``busy_timeout`` instead of failing with "database is locked".
- When the view returns, the request's work is committed once. Any exception
  rolls it back before an error handler runs, so an error page never renders
  on a failed session.
- Housekeeping that rides on a page (a session's ``last_seen_at``) runs after
  that commit in a short transaction of its own, and a busy database skips it
  rather than breaking the page.

- ``on_commit`` runs a callback (a security log line) once the work it
  describes is committed, in a request, a CLI command or a worker alike; a
  rollback, of the transaction or of the savepoint it was added in, drops it.

Routes hold no transaction code; services raise ``DomainError`` and run inside
``atomic`` so that a refusal leaves none of their writes behind.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from sqlalchemy import event as sa_event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction

from community.extensions import db

log = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
F = TypeVar("F", bound=Callable[..., Any])

_IMMEDIATE: contextvars.ContextVar[bool] = contextvars.ContextVar("sqlite_immediate",
                                                                  default=False)


def sqlite_begin(conn) -> None:
    """Begin SQLite transactions ourselves (SQLAlchemy's pysqlite fix); a
    transaction that may write takes the write lock at once."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _IMMEDIATE.get() else "BEGIN")


@contextmanager
def immediate() -> Iterator[None]:
    """Transactions begun inside this block take SQLite's write lock first
    (CLI commands and workers that read, then write)."""
    token = _IMMEDIATE.set(True)
    try:
        yield
    finally:
        _IMMEDIATE.reset(token)


def writes(view: F) -> F:
    """Mark a GET view that writes (a confirmation link), so its transaction
    begins as a writer too."""
    view.harbour_writes = True  # type: ignore[attr-defined]
    return view


def atomic(func: F) -> F:
    """Run a service rule in a savepoint: when it raises, none of its writes
    stay in the request's transaction; when it returns, they do."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with db.session.begin_nested():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def after_commit(task: Callable[[], None]) -> None:
    """Run ``task`` after the request's commit, in a transaction of its own
    that is skipped, never raised, when the database is busy."""
    g.setdefault("harbour_after_commit", []).append(task)


# --- callbacks once the transaction commits --------------------------------------

_ON_COMMIT = "harbour_on_commit"


def on_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current transaction of ``db.session`` commits,
    and never if it rolls back. Added inside a savepoint (``atomic``), it is
    dropped when that savepoint rolls back, even if the outer transaction then
    commits. Callbacks must not touch the database; an exception in one is
    logged, never raised (the data is committed already)."""
    session = db.session()
    owner = session.get_nested_transaction() if session.in_nested_transaction() else None
    session.info.setdefault(_ON_COMMIT, []).append((owner, callback))


def _within(owner: SessionTransaction | None, transaction: SessionTransaction) -> bool:
    while owner is not None:
        if owner is transaction:
            return True
        owner = owner.parent
    return False


def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    """A rollback drops the callbacks added inside what it rolled back: the
    whole transaction, or a savepoint and the savepoints released into it."""
    pending = session.info.get(_ON_COMMIT)
    if not pending:
        return
    if previous.parent is None:
        session.info.pop(_ON_COMMIT, None)
    elif previous.nested:
        session.info[_ON_COMMIT] = [item for item in pending if not _within(item[0], previous)]


def _run_on_commit(session: Session) -> None:
    for _owner, callback in session.info.pop(_ON_COMMIT, []):
        try:
            callback()
        except Exception:  # noqa: BLE001 (committed already: report, do not raise)
            log.exception("an after-commit callback failed")


def _listen_on_commit() -> None:
    if getattr(Session, "_harbour_on_commit_listening", False):
        return
    sa_event.listen(Session, "after_soft_rollback", _drop_rolled_back)
    sa_event.listen(Session, "after_commit", _run_on_commit)
    Session._harbour_on_commit_listening = True  # type: ignore[attr-defined]


def _may_write() -> bool:
    if request.method not in READ_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "harbour_writes", False))


def _begin() -> None:
    g.harbour_immediate = _IMMEDIATE.set(_may_write())


def _rollback() -> None:
    try:
        db.session.rollback()
    except SQLAlchemyError:  # a dead connection: the pool replaces it
        log.warning("rollback failed", exc_info=True)


def _run_after_commit() -> None:
    tasks = g.pop("harbour_after_commit", [])
    for task in tasks:
        token = _IMMEDIATE.set(True)
        try:
            task()
            db.session.commit()
        except SQLAlchemyError:
            _rollback()
            log.info("skipped housekeeping on a busy database")
        finally:
            _IMMEDIATE.reset(token)


def _after(response: Response) -> Response:
    _run_after_commit()
    return response


def _end(_exc: BaseException | None) -> None:
    token = g.pop("harbour_immediate", None)
    if token is not None:
        _IMMEDIATE.reset(token)


class TransactionalFlask(Flask):
    """Flask with the request lifecycle above: commit once when the view
    returns, roll back on any exception before its handler runs."""

    def dispatch_request(self) -> Any:  # noqa: D102
        response = super().dispatch_request()
        db.session.commit()
        return response

    def handle_user_exception(self, e: Exception) -> Any:  # noqa: D102
        _rollback()
        g.pop("harbour_after_commit", None)
        return super().handle_user_exception(e)

    def handle_exception(self, e: Exception) -> Response:  # noqa: D102
        _rollback()
        g.pop("harbour_after_commit", None)
        return super().handle_exception(e)


def init_app(app: Flask) -> None:
    _listen_on_commit()
    # First of the before-request hooks, so nothing touches the database earlier.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_after)
    app.teardown_request(_end)
