"""Database connections: SQLite pragmas, dead pooled connections, and units of work that survive a drop.

A database server can drop connections (a restart, `pg_terminate_backend`, an idle timeout).
Two things keep that from costing a request or a job:

- At checkout, a pooled PostgreSQL connection whose socket has something to read while idle
  was told by the server that it is closing (or hit EOF): the pool replaces it before use.
  That costs one `poll()` system call, not the round trip of `pool_pre_ping`; a connection
  idle for `IDLE_PING_SECONDS` is pinged too, for drops that send nothing.
- A connection that dies while a unit of work holds it fails that statement; SQLAlchemy then
  invalidates the whole pool. `once_more_if_dropped` runs the unit (a request's view, a job's
  claim, work and bookkeeping) once more on a fresh connection, unless it already committed
  something: then the error propagates, and the caller fails cleanly. A unit that resumes
  from what it committed (a send batch from its ledger) uses `retry_if_dropped` instead.
"""

from __future__ import annotations

import logging
import select
import sqlite3
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from service.database_away import SQLITE_AWAY

IDLE_PING_SECONDS = 10.0
T = TypeVar("T")
log = logging.getLogger(__name__)
_commits = threading.local()  # how many transactions this thread committed, ever


def _is_sqlite(dbapi_connection: Any) -> bool:
    return type(dbapi_connection).__module__.startswith("sqlite3")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite: WAL so the web and the worker can write side by side, and wait on locks."""
    if _is_sqlite(dbapi_connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


@event.listens_for(Pool, "checkin")
def _note_idle_since(dbapi_connection: Any, connection_record: Any) -> None:
    if connection_record is not None:
        connection_record.info["idle_since"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _check_alive(dbapi_connection: Any, connection_record: Any, proxy: Any) -> None:
    """Refuse a server connection that was closed while pooled; the pool makes a new one."""
    if _is_sqlite(dbapi_connection):
        return
    if dbapi_connection.closed or _has_unread_data(dbapi_connection):
        raise exc.DisconnectionError("the server closed this pooled connection")
    idle_since = connection_record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as error:
        raise exc.DisconnectionError("idle connection is gone") from error


def _has_unread_data(dbapi_connection: Any) -> bool:
    """An idle connection is sent nothing unless the server is closing it (or it hit EOF)."""
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


@event.listens_for(Engine, "commit")
def _count_commit(connection: Any) -> None:
    _commits.count = getattr(_commits, "count", 0) + 1


def is_dropped(error: BaseException) -> bool:
    """True if `error` is the database server having dropped the connection."""
    return isinstance(error, exc.DBAPIError) and error.connection_invalidated


def once_more_if_dropped(work: Callable[[], T]) -> T:
    """Run a unit of work; once more on a fresh connection if the server dropped its connection.

    The session is rolled back first. A unit that committed before the drop is not run again
    (it would repeat what it did): the error propagates.
    """
    from service.extensions import db

    committed = getattr(_commits, "count", 0)
    try:
        return work()
    except exc.DBAPIError as error:
        if not is_dropped(error) or getattr(_commits, "count", 0) != committed:
            raise
        log.warning("database connection dropped; running the work once more: %s", error.orig)
    db.session.rollback()
    return work()


def retry_if_dropped(work: Callable[[], T], tries: int = 3, pause: float = 0.5) -> T:
    """Run a unit of work that resumes from what it committed (a send batch from its ledger, the
    planner from its checkpoint); on a dropped connection roll back and run it again, `tries`
    times in all, pausing a little longer each time (a database restart takes a moment).
    """
    from service.extensions import db

    for attempt in range(1, tries + 1):
        try:
            return work()
        except exc.DBAPIError as error:
            db.session.rollback()
            if not is_dropped(error) or attempt == tries:
                raise
            log.warning("database connection dropped (%s); resuming on a fresh one", error.orig)
            time.sleep(pause * attempt)
    raise AssertionError("unreachable")


def retry_dropped_requests(app: Flask) -> None:
    """Make every view of `app` one unit of work that survives a dropped connection."""
    for endpoint, view in app.view_functions.items():
        app.view_functions[endpoint] = _once_more_if_dropped(view)


def _once_more_if_dropped(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        return once_more_if_dropped(lambda: view(*args, **kwargs))

    return run


def is_unreachable(error: BaseException) -> bool:
    """True if `error` says the database cannot be reached now (dropped, refused, shutting
    down), not that the statement was wrong: waiting for the server is the remedy."""
    if not isinstance(error, (exc.OperationalError, exc.InterfaceError, exc.DBAPIError)):
        return False
    if is_dropped(error):
        return True
    if not isinstance(error, (exc.OperationalError, exc.InterfaceError)):
        return False
    if isinstance(error.orig, sqlite3.Error):  # no SQLSTATE: its words say whether to wait
        return any(words in str(error.orig).lower() for words in SQLITE_AWAY)
    state = getattr(error.orig, "sqlstate", None)
    # No SQLSTATE: the client could not talk to the server at all (refused, reset, timed out);
    # class 08 is a connection exception, 57P the server shutting down or restarting.
    return state is None or state.startswith(("08", "57P"))


def wait_until_reachable(engine: Engine, seconds: float) -> bool:
    """Poll the database (a fresh connection each time) until it answers; False after `seconds`.

    The pause grows from 0.1 s to 0.5 s, so work resumes within half a second of its return.
    """
    deadline = time.monotonic() + seconds
    pause = 0.1
    while True:
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except exc.DBAPIError as error:
            if not is_unreachable(error):
                raise
        if time.monotonic() + pause > deadline:
            return False
        time.sleep(pause)
        pause = min(0.5, pause * 2)
