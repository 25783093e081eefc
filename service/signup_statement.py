"""A new reader's signup in as few statements as the database allows, run without the ORM.

PostgreSQL: the whole signup as one statement, one round trip instead of six. A chain of
data-modifying CTEs inserts the subscriber (unless the address is known or blocked by hand),
its pending subscriptions, their events, the consent record and the confirmation's outbox
job, and returns the job's id. It runs in autocommit: one statement is atomic by itself.

SQLite has no data-modifying CTEs: the same rows go in statement by statement in one
transaction, starting with `new_subscriber`, which folds the manual-block check into the
insert.

Either way a known or blocked address inserts nothing and `record_new_signup` returns None;
`service.subscriptions` then takes its general path. The statements are Core, built from the
models, compiled once per dialect and run on the driver (`service.prepared`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Engine,
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
from sqlalchemy.engine import Dialect

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
from service.prepared import Prepared, raw_transaction

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


class _SQLiteSignup:
    """The statements of a new reader's signup on SQLite, in the order they run.

    Each one takes its values from the same parameters as PostgreSQL's single statement
    (plus the ids it needs from the one before); constants are literals of the statement.
    """

    def __init__(self, dialect: Dialect, task: str) -> None:
        pending = literal(SubscriptionStatus.PENDING.value)
        subscriber_id = bindparam("subscriber_id", type_=Integer)
        self.subscriber = Prepared(new_subscriber("sqlite"), dialect)
        self.subscription = Prepared(
            _SUBSCRIPTIONS.insert()
            .values(
                subscriber_id=subscriber_id,
                newsletter_id=bindparam("newsletter_id", type_=Integer),
                status=pending,
                created_at=_NOW,
                updated_at=_NOW,
            )
            .returning(_SUBSCRIPTIONS.c.id),
            dialect,
        )
        self.event = Prepared(
            _EVENTS.insert().values(
                subscription_id=bindparam("subscription_id", type_=Integer),
                from_status=null(),
                to_status=pending,
                cause=literal("signup"),
                created_at=_NOW,
            ),
            dialect,
        )
        consent_fields = ("newsletters", "ip", "user_agent", "source_url", "form")
        self.consent = Prepared(
            _CONSENTS.insert().values(
                subscriber_id=subscriber_id,
                action=literal("signup"),
                created_at=_NOW,
                **{name: _param(_CONSENTS.c[name]) for name in consent_fields},
            ),
            dialect,
        )
        self.job = Prepared(
            _JOBS.insert()
            .values(
                task=literal(task),
                payload=func.json_object("subscriber_id", subscriber_id, type_=JSON),
                status=literal(JobStatus.PENDING.value),
                attempts=literal(0),
                available_at=_param(_JOBS.c.available_at),
                last_error=literal(""),
                created_at=_NOW,
            )
            .returning(_JOBS.c.id),
            dialect,
        )

    def run(self, cursor: Any, values: dict[str, Any], ids: Sequence[int]) -> int | None:
        """Insert the signup's rows; the job id, or None if the address is known or blocked."""
        subscriber_id = self.subscriber.first(cursor, values)
        if subscriber_id is None:
            return None
        values = {**values, "subscriber_id": subscriber_id}
        for newsletter_id in ids:
            subscription_id = self.subscription.first(
                cursor, {**values, "newsletter_id": newsletter_id}
            )
            self.event.run(cursor, {**values, "subscription_id": subscription_id})
        self.consent.run(cursor, values)
        return self.job.first(cursor, values)


_PREPARED: dict[tuple[str, str], Any] = {}


def _prepared(dialect: Dialect, task: str) -> Any:
    """The compiled signup statements for this kind of database (compiled on first use)."""
    key = (dialect.name, task)
    if key not in _PREPARED:
        is_postgres = dialect.name == "postgresql"
        _PREPARED[key] = (
            Prepared(_statement(task), dialect) if is_postgres else _SQLiteSignup(dialect, task)
        )
    return _PREPARED[key]


def record_new_signup(
    engine: Engine,
    task: str,
    values: dict[str, Any],
    newsletter_ids: Sequence[int],
    now: datetime,
    available_at: datetime,
) -> int | None:
    """Store a new reader's signup; the confirmation job's id, or None if not new.

    `values` holds the subscriber's fields, the consent fields and `hash` (the suppression
    hash); `task` is the confirmation job's task name.
    """
    dialect = engine.dialect
    statements = _prepared(dialect, task)
    values = {**values, "now": now, "available_at": available_at}
    if dialect.name == "postgresql":
        values["newsletter_ids"] = list(newsletter_ids)
        return raw_transaction(
            engine, lambda cursor: statements.first(cursor, values), autocommit=True
        )
    return raw_transaction(engine, lambda cursor: statements.run(cursor, values, newsletter_ids))
