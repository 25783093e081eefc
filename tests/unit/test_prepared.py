"""Prepared statements: the row written is SQLAlchemy's row; a unit of work commits once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, literal, select, text

from service.extensions import db
from service.models import OutboxJob
from service.prepared import Prepared, raw_transaction

JOBS = OutboxJob.__table__
VALUES = {
    "task": "mail.send_confirmation",
    "payload": {"email": "олена@пошта.укр", "ids": [1, 2], "nested": {"a": None}},
    "available_at": datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    "created_at": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
}
STATEMENT = (
    JOBS.insert()
    .values(
        task=bindparam("task", type_=JOBS.c.task.type),
        payload=bindparam("payload", type_=JOBS.c.payload.type),
        status=literal("pending"),
        attempts=literal(0),
        available_at=bindparam("available_at", type_=JOBS.c.available_at.type),
        last_error=literal(""),
        created_at=bindparam("created_at", type_=JOBS.c.created_at.type),
    )
    .returning(JOBS.c.id)
)
RAW_ROW = text(
    "SELECT task, payload, status, attempts, available_at, last_error, created_at"
    " FROM outbox_jobs WHERE id = :id"
)


def _stored(job_id: int) -> tuple:
    """The row as the database holds it (text, not SQLAlchemy's reading of it)."""
    with db.engine.connect() as conn:
        return tuple(conn.execute(RAW_ROW, {"id": job_id}).one())


def test_a_prepared_insert_writes_exactly_the_row_sqlalchemy_writes(unit_app):
    prepared = Prepared(STATEMENT, db.engine.dialect)
    assert ":task" in prepared.sql  # SQLite's qmark style is replaced by named
    ours = raw_transaction(db.engine, lambda cursor: prepared.first(cursor, VALUES))
    with db.engine.begin() as conn:
        theirs = conn.scalar(
            insert(JOBS).returning(JOBS.c.id),
            {**VALUES, "status": "pending", "attempts": 0, "last_error": ""},
        )
    assert ours != theirs
    assert _stored(ours) == _stored(theirs)
    job = db.session.get(OutboxJob, ours)
    assert (job.payload, job.available_at) == (VALUES["payload"], VALUES["available_at"])


def test_parameters_fill_the_literals_and_run_each_bind_processor(unit_app):
    params = Prepared(STATEMENT, db.engine.dialect).parameters(VALUES)
    assert params["task"] == VALUES["task"]
    assert (
        params["payload"]
        == '{"email": "\\u043e\\u043b\\u0435\\u043d\\u0430@\\u043f\\u043e\\u0448\\u0442\\u0430.\\u0443\\u043a\\u0440", "ids": [1, 2], "nested": {"a": null}}'
    )
    assert params["available_at"] == "2030-01-02 03:04:05.678901"
    assert sorted(repr(v) for k, v in params.items() if k not in VALUES) == ["''", "'pending'", "0"]
    with pytest.raises(KeyError):
        Prepared(STATEMENT, db.engine.dialect).parameters({"task": "x"})


def test_first_is_none_for_a_statement_that_returns_no_row(unit_app):
    nothing = Prepared(select(JOBS.c.id).where(JOBS.c.id == bindparam("id")), db.engine.dialect)
    assert raw_transaction(db.engine, lambda cursor: nothing.first(cursor, {"id": 1})) is None


def test_work_that_fails_is_rolled_back_and_its_connection_reused(unit_app):
    prepared = Prepared(STATEMENT, db.engine.dialect)

    def fails(cursor):
        prepared.first(cursor, VALUES)
        raise RuntimeError("after the insert")

    with pytest.raises(RuntimeError):
        raw_transaction(db.engine, fails)
    assert db.engine.pool.checkedout() == 0  # back in the pool
    assert db.session.scalars(select(OutboxJob.id)).all() == []
    job_id = raw_transaction(db.engine, lambda cursor: prepared.first(cursor, VALUES))
    assert db.session.scalars(select(OutboxJob.id)).all() == [job_id]


def test_a_dropped_connection_runs_the_work_once_more_on_a_fresh_one(unit_app):
    prepared = Prepared(STATEMENT, db.engine.dialect)
    tries = []

    def drops_once(cursor):
        tries.append(cursor.connection)
        if len(tries) == 1:
            cursor.connection.close()  # what a lost server does to the driver's connection
        return prepared.first(cursor, VALUES)

    job_id = raw_transaction(db.engine, drops_once)
    assert len(tries) == 2 and tries[0] is not tries[1]
    assert db.session.scalars(select(OutboxJob.id)).all() == [job_id]


def test_a_connection_dropped_twice_raises_the_drivers_error(unit_app):
    def always_drops(cursor):
        cursor.connection.close()
        return Prepared(STATEMENT, db.engine.dialect).first(cursor, VALUES)

    with pytest.raises(db.engine.dialect.loaded_dbapi.ProgrammingError, match="closed database"):
        raw_transaction(db.engine, always_drops)
    assert db.session.scalars(select(OutboxJob.id)).all() == []
