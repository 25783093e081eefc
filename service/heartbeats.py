"""Heartbeats: workers and beat say every `HEARTBEAT_SECONDS` that they are alive, `/readyz` reads.

They are kept in the database, the one store every layout has (the embedded one runs on
SQLite with no Redis; the broker is for tasks, and a heartbeat sent as a task would need a
worker to be read). One small row per process, written in place: the table holds as many
rows as there are processes, so reading it is no scan. A process stopped cleanly takes its
row away; a killed one leaves it to age, and `/readyz` names it. A row nobody renewed for
`FORGET_SECONDS` (a host retired without a clean stop) is deleted by the next heartbeat.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import Engine, create_engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from service.extensions import db
from service.models import Heartbeat, utcnow

FORGET_SECONDS = 24 * 3600
log = logging.getLogger(__name__)
TABLE = Heartbeat.__table__


@dataclass(frozen=True)
class Seen:
    """One process's last heartbeat: its `name`, `kind` and how many seconds ago."""

    name: str
    kind: str
    age: float


def record(engine: Engine, kind: str, name: str, now: datetime | None = None) -> None:
    """Renew `name`'s heartbeat (made on its first beat) and forget long-silent processes."""
    now = now or utcnow()
    with engine.begin() as conn:
        renewed = conn.execute(update(TABLE).where(TABLE.c.name == name).values(beat_at=now))
        if not renewed.rowcount:
            try:
                with conn.begin_nested():
                    values = {"name": name, "kind": kind, "started_at": now, "beat_at": now}
                    conn.execute(insert(TABLE).values(**values))
            except IntegrityError:  # the same name beat in between: it is alive
                pass
        conn.execute(delete(TABLE).where(TABLE.c.beat_at < now - timedelta(seconds=FORGET_SECONDS)))


def forget(engine: Engine, name: str) -> None:
    """Take a cleanly stopped process's row away, so it is not reported dead."""
    with engine.begin() as conn:
        conn.execute(delete(TABLE).where(TABLE.c.name == name))


def seen(now: datetime | None = None) -> list[Seen]:
    """Every process's last heartbeat, by name (one small read of a table of a few rows)."""
    now = now or utcnow()
    rows = db.session.execute(select(TABLE.c.name, TABLE.c.kind, TABLE.c.beat_at).order_by("name"))
    return [Seen(name, kind, max(0.0, (now - at).total_seconds())) for name, kind, at in rows]


def beat_name() -> str:
    """Beat's heartbeat name: `beat@<host>` (one beat per deployment)."""
    return f"beat@{socket.gethostname()}"


class Pulse:
    """A daemon thread of a worker or beat process that records its heartbeat every period.

    It has its own engine without a pool (one short connection per beat), so it shares no
    connection with the process's own work or with forked pool children.
    """

    def __init__(self, app: Flask, kind: str, name: str) -> None:
        self.kind, self.name = kind, name
        self.period = float(app.config["HEARTBEAT_SECONDS"])
        self.engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{kind}", daemon=True)

    def start(self) -> Pulse:
        """Beat now, then every period, until `stop`."""
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            try:
                record(self.engine, self.kind, self.name)
            except SQLAlchemyError as exc:  # the database is down: /readyz says so itself
                log.warning("heartbeat of %s not recorded: %s", self.name, type(exc).__name__)
            if self._stop.wait(self.period):
                return

    def stop(self) -> None:
        """Stop beating and take the row away (a clean stop is no failure)."""
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            forget(self.engine, self.name)
        except SQLAlchemyError as exc:
            log.warning("heartbeat of %s not removed: %s", self.name, type(exc).__name__)
        self.engine.dispose()
