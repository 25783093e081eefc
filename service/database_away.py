"""The database being away: which errors mean it, and how to say so in a few words.

A database that refuses connections, drops them, times out or (SQLite) cannot be opened or
stays locked is *away*: the work may succeed once it is back, so a signup is spooled, the
admin API answers 503 with `Retry-After`, and the CLI prints one line. Errors about the
schema (a table missing: run `db upgrade`) or the statement are not outages.
"""

from __future__ import annotations

import re
import sqlite3

import psycopg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

_AWAY_WRAPPED = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
_AWAY_DRIVER = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
)
# Every class `is_away` may say yes to, for error handlers registered by class.
AWAY_ERRORS = (*_AWAY_WRAPPED, sa_exc.DisconnectionError, *_AWAY_DRIVER)
_SCHEMA_WORDS = ("no such table", "no such column", "does not exist")
# What SQLite says when its file cannot be used now; anything else (a row it cannot decode,
# a constraint) is about the statement or the data, and waiting will not help.
SQLITE_AWAY = ("unable to open database file", "database is locked", "disk i/o error",
               "database table is locked")  # fmt: skip
_REASONS = (  # what the driver said -> a few plain words
    ("connection refused", "connection refused"),
    ("timeout expired", "timed out"),
    ("timed out", "timed out"),
    ("could not translate host name", "host name not found"),
    ("server closed the connection", "connection closed by the server"),
    ("terminating connection", "connection closed by the server"),
    ("the database system is starting up", "starting up"),
    ("the database system is shutting down", "shutting down"),
    ("too many clients", "too many connections"),
    ("database is locked", "locked by another process"),
    ("unable to open database file", "file cannot be opened"),
    ("disk i/o error", "disk I/O error"),
)
_USERINFO = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
REASON_MAX = 160


def is_away(error: BaseException) -> bool:
    """True if `error` says the database cannot be reached or used right now."""
    if isinstance(error, sa_exc.DisconnectionError):
        return True
    original = getattr(error, "orig", None) if isinstance(error, sa_exc.DBAPIError) else error
    if not isinstance(error, _AWAY_WRAPPED) and not isinstance(original, _AWAY_DRIVER):
        return False
    text = str(original or error).lower()
    if isinstance(original, sqlite3.Error):
        return any(words in text for words in SQLITE_AWAY)
    return not any(words in text for words in _SCHEMA_WORDS)


def reason(error: BaseException) -> str:
    """A few words for why the database is away ("connection refused"), never a password."""
    original = getattr(error, "orig", None) or error
    text = " ".join(str(original).split()) or type(original).__name__
    lowered = text.lower()
    for words, plain in _REASONS:
        if words in lowered:
            return plain
    return _USERINFO.sub(r"\1***@", text)[:REASON_MAX]


def shown_url(url: object) -> str:
    """The database URL as it may be shown: its password replaced by `***`, no driver name
    (as DATABASE_URL is written)."""
    try:
        parsed = make_url(str(url))
        parsed = parsed.set(drivername=parsed.get_backend_name())
        return parsed.render_as_string(hide_password=True)
    except (sa_exc.ArgumentError, ValueError):
        return "the database"


def one_line(url: object, error: BaseException) -> str:
    """What an operator is told: which database, why, and what to do."""
    return (
        f"the database at {shown_url(url)} is not answering ({reason(error)}); "
        "check DATABASE_URL, start it and run the command again"
    )
