"""Core statements compiled once and run straight on a pooled DBAPI connection.

The signup request runs one small INSERT. SQLAlchemy's execution machinery (cache lookup,
parameter construction, result set-up) costs more than the database spends on it, so the hot
path compiles its statement once per dialect and hands the SQL and the parameters to the
driver itself. The SQL still comes from the models' tables, and every value still goes
through its column type's bind processor, so a row written here is the row SQLAlchemy would
have written.

`raw_transaction` lends a pooled connection for one unit of work and commits it; a
connection the server dropped is invalidated (the pool replaces it) and the work is run once
more on a fresh pool, which is safe because a failed unit of work was rolled back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

T = TypeVar("T")


class Prepared:
    """One statement compiled for one dialect, with its literal values and bind processors."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        if dialect.paramstyle not in ("named", "pyformat"):
            dialect = type(dialect)(paramstyle="named")  # SQLite's default is qmark
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self._literals: dict[str, Any] = {}
        self._processors: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            if not bind.required:
                self._literals[name] = bind.effective_value
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._processors[name] = processor

    def parameters(self, values: dict[str, Any]) -> dict[str, Any]:
        """The DBAPI parameters for `values` (the statement's literals filled in)."""
        params = {**self._literals, **values}
        for name, process in self._processors.items():
            params[name] = process(params[name])
        return params

    def first(self, cursor: Any, values: dict[str, Any]) -> Any:
        """Run the statement; the first column of its first row, or None if it returned none."""
        cursor.execute(self.sql, self.parameters(values))
        rows = cursor.fetchall()  # SQLite: a RETURNING statement is finished only when drained
        return rows[0][0] if rows else None


class _Disconnected(Exception):
    """The server dropped the pooled connection; the unit of work did not happen."""


@contextmanager
def _lent(engine: Engine, autocommit: bool) -> Iterator[tuple[Any, Any]]:
    """A pooled connection and a cursor on it, back to the pool (rolled back) afterwards."""
    fairy = engine.raw_connection()
    driver = fairy.driver_connection
    try:
        if autocommit:  # psycopg's switch; only asked of server databases
            driver.autocommit = True
        cursor = fairy.cursor()
        try:
            yield fairy, cursor
        finally:
            cursor.close()
    except engine.dialect.loaded_dbapi.Error as error:
        if engine.dialect.is_disconnect(error, fairy.dbapi_connection, None):
            fairy.invalidate(error)
            engine.dispose()  # its pooled siblings are most likely gone too (a restart)
            raise _Disconnected from error
        raise
    finally:
        if fairy.is_valid:
            if autocommit:
                driver.autocommit = False
            fairy.close()  # the pool rolls back whatever was not committed


def raw_transaction(engine: Engine, work: Callable[[Any], T], *, autocommit: bool = False) -> T:
    """Run `work(cursor)` and commit; once more on a fresh connection if the server dropped it.

    `autocommit` runs each statement as its own transaction: for a unit of work that is one
    statement, it saves the BEGIN and COMMIT round trips on a server database.
    """
    for attempt in (1, 2):
        try:
            with _lent(engine, autocommit) as (connection, cursor):
                result = work(cursor)
                if not autocommit:
                    connection.commit()
                return result
        except _Disconnected as dropped:
            if attempt == 2:
                raise dropped.__cause__ from None
    raise AssertionError("unreachable")
