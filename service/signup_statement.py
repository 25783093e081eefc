"""A new reader's signup in as few statements as the database allows.

PostgreSQL: the whole signup as one statement, one round trip instead of six.

A chain of data-modifying CTEs inserts the subscriber (unless the address is known or blocked
by hand), its pending subscriptions, their events, the consent record and the confirmation's
outbox job, and returns the job's id. A known or blocked address inserts nothing and returns
no row; `service.subscriptions` then takes its general path, statement by statement, in a
transaction. SQLite has no data-modifying CTEs: it uses `new_subscriber` alone, which
folds the manual-block check into the insert.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Integer,
    Select,
    bindparam,
    exists,
    func,
    literal,
    null,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY, insert

from service.models import (
    ConsentRecord,
    JobStatus,
    OutboxJob,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
    Suppression,
)

_SUBSCRIBERS, _SUBSCRIPTIONS = Subscriber.__table__, Subscription.__table__
_EVENTS, _CONSENTS, _JOBS = (
    SubscriptionEvent.__table__,
    ConsentRecord.__table__,
    OutboxJob.__table__,
)
_SUBSCRIBER_FIELDS = ("email", "email_ascii", "email_key", "smtputf8", "name", "locale")


def _param(column: Column) -> Any:
    return bindparam(column.name, type_=column.type)


_NOW = bindparam("now", type_=_SUBSCRIBERS.c.created_at.type)


@cache
def new_subscriber(dialect: str) -> Any:
    """INSERT the subscriber unless the address is known or blocked by hand, RETURNING its id.

    Parameters: the subscriber's fields, `hash` (its suppression hash) and `now`. Both
    backends use it: SQLite on its own, PostgreSQL as the head of `_statement`.
    """
    module = postgresql if dialect == "postgresql" else sqlite
    blocked = select(Suppression.__table__.c.id).where(
        Suppression.__table__.c.email_hash == bindparam("hash"),
        Suppression.__table__.c.reason == "manual",
    )
    columns = [_SUBSCRIBERS.c[name] for name in _SUBSCRIBER_FIELDS]
    return (
        module.insert(_SUBSCRIBERS)
        .from_select(
            [*columns, "state_version", "last_confirmation_sent_at", "created_at", "updated_at"],
            select(*map(_param, columns), literal(0), _NOW, _NOW, _NOW).where(~exists(blocked)),
        )
        .on_conflict_do_nothing()
        .returning(_SUBSCRIBERS.c.id)
    )


@cache
def _statement(task: str) -> Select:
    now = _NOW
    pending = literal(SubscriptionStatus.PENDING.value)
    subscriber = new_subscriber("postgresql").cte("new_subscriber")
    newsletter = (
        func.unnest(bindparam("newsletter_ids", type_=ARRAY(Integer)))
        .table_valued("id")
        .render_derived(name="newsletter")
    )
    subscriptions = (
        insert(_SUBSCRIPTIONS)
        .from_select(
            ["subscriber_id", "newsletter_id", "status", "created_at", "updated_at"],
            select(subscriber.c.id, newsletter.c.id, pending, now, now).select_from(
                subscriber.join(newsletter, true())
            ),
        )
        .returning(_SUBSCRIPTIONS.c.id)
        .cte("new_subscriptions")
    )
    events = insert(_EVENTS).from_select(
        ["subscription_id", "from_status", "to_status", "cause", "created_at"],
        select(subscriptions.c.id, null(), pending, literal("signup"), now),
    )
    consent_columns = [
        _CONSENTS.c[n] for n in ("newsletters", "ip", "user_agent", "source_url", "form")
    ]
    consent = insert(_CONSENTS).from_select(
        ["subscriber_id", "action", *consent_columns, "created_at"],
        select(subscriber.c.id, literal("signup"), *map(_param, consent_columns), now),
    )
    job = (
        insert(_JOBS)
        .from_select(
            ["task", "payload", "status", "attempts", "available_at", "last_error", "created_at"],
            select(
                literal(task),
                func.json_build_object("subscriber_id", subscriber.c.id, type_=JSON),
                literal(JobStatus.PENDING.value),
                literal(0),
                _param(_JOBS.c.available_at),
                literal(""),
                now,
            ),
        )
        .returning(_JOBS.c.id)
        .cte("new_job")
    )
    return select(job.c.id).add_cte(events.cte("new_events"), consent.cte("new_consent"))


def record_new_signup(
    conn: Connection, task: str, values: dict[str, Any], now: datetime, available_at: datetime
) -> int | None:
    """Insert a new reader's signup in one statement; the job id, or None if not new.

    `values` holds the subscriber's fields, the consent fields, `hash` (the suppression hash)
    and `newsletter_ids`.
    """
    return conn.scalar(_statement(task), {**values, "now": now, "available_at": available_at})
