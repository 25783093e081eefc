"""The statements of a signup: the one the web request runs, and the worker's first.

`record_signup_job` is the whole database work of `POST /api/v1/subscriptions`: one INSERT of
an outbox job that carries the signup, compiled once per dialect and run on the driver
(`service.prepared`); on PostgreSQL in autocommit, one round trip. `new_subscriber` is how the
worker that applies the job inserts the reader, folding the manual-block check into the
insert.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Column, Engine, bindparam, exists, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from service.models import JobStatus, OutboxJob, Subscriber, Suppression
from service.prepared import Prepared, raw_transaction

_SUBSCRIBERS, _JOBS = Subscriber.__table__, OutboxJob.__table__
SUBSCRIBER_FIELDS = ("email", "email_ascii", "email_key", "smtputf8", "name", "locale")


def _param(column: Column) -> Any:
    return bindparam(column.name, type_=column.type)


_NOW = bindparam("now", type_=_SUBSCRIBERS.c.created_at.type)


@cache
def new_subscriber(dialect: str) -> Any:
    """INSERT the subscriber unless the address is known or blocked by hand, RETURNING its id.

    Parameters: the subscriber's fields, `hash` (its suppression hash) and `now`.
    """
    module = postgresql if dialect == "postgresql" else sqlite
    blocked = select(Suppression.__table__.c.id).where(
        Suppression.__table__.c.email_hash == bindparam("hash"),
        Suppression.__table__.c.reason == "manual",
    )
    columns = [_SUBSCRIBERS.c[name] for name in SUBSCRIBER_FIELDS]
    return (
        module.insert(_SUBSCRIBERS)
        .from_select(
            [*columns, "state_version", "last_confirmation_sent_at", "created_at", "updated_at"],
            select(*map(_param, columns), literal(0), _NOW, _NOW, _NOW).where(~exists(blocked)),
        )
        .on_conflict_do_nothing()
        .returning(_SUBSCRIBERS.c.id)
    )


_INSERT_JOB = (
    _JOBS.insert()
    .values(
        task=_param(_JOBS.c.task),
        payload=_param(_JOBS.c.payload),
        status=literal(JobStatus.PENDING.value),
        attempts=literal(0),
        available_at=_param(_JOBS.c.available_at),
        last_error=literal(""),
        created_at=_NOW,
    )
    .returning(_JOBS.c.id)
)
_PREPARED: dict[str, Prepared] = {}


def _prepared(dialect: Dialect) -> Prepared:
    """The job INSERT compiled for this kind of database (on first use)."""
    if dialect.name not in _PREPARED:
        _PREPARED[dialect.name] = Prepared(_INSERT_JOB, dialect)
    return _PREPARED[dialect.name]


def record_signup_job(
    engine: Engine, task: str, payload: dict[str, Any], now: datetime, available_at: datetime
) -> int:
    """Store the outbox job of a signup, committed; its id.

    `available_at` is when beat's relay may hand it over if the direct hand-over is lost.
    """
    statement = _prepared(engine.dialect)
    values = {"task": task, "payload": payload, "now": now, "available_at": available_at}
    return raw_transaction(
        engine,
        lambda cursor: statement.first(cursor, values),
        autocommit=engine.dialect.name == "postgresql",
    )
