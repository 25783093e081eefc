"""Database connections: SQLite pragmas, and a liveness check for pooled connections.

A database server can drop a connection that sat in the pool (a restart, an idle timeout).
SQLAlchemy's `pool_pre_ping` checks every checkout, which costs a round trip per request,
as much as a whole signup statement on PostgreSQL. Instead a connection is checked only
when it was idle for `IDLE_PING_SECONDS`; a busy one that died anyway fails its statement,
SQLAlchemy invalidates the pool, and the signup path retries once on a fresh connection.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

IDLE_PING_SECONDS = 10.0


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
def _ping_if_idle(dbapi_connection: Any, connection_record: Any, proxy: Any) -> None:
    """Check a server connection that sat idle; a dead one is replaced by the pool."""
    idle_since = connection_record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
        return
    if _is_sqlite(dbapi_connection):
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as error:
        raise exc.DisconnectionError("idle connection is gone") from error
