"""Signups taken while the database was away: spooled, then replayed in order, each once.

`hold` puts an accepted signup in the spool (`service.signup.spool`) and makes sure this
process's replayer runs. The replayer (a daemon thread, a greenlet under gevent) takes the
spool's replayer lock, reads the oldest entries, writes each one's receipt and outbox job in
one transaction and only then drops them from the spool; while the database is still away it
tries again every `PAUSE` seconds, so the spool drains within about that of the database's
return. A receipt already there means the entry was replayed before (the spool's drop was
lost): it is skipped, so each signup is applied once. While this process knows of spooled
signups (`holding`), new ones queue behind them rather than overtake them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite

from service import outbox
from service.database_away import is_away, reason
from service.lists import newsletter_index
from service.models import SpooledSignup, utcnow
from service.signup.spool import BadEntry, Store, decode, encode, new_entry, store_for
from service.task_names import TaskName

log = logging.getLogger(__name__)

PAUSE = 0.5  # seconds between tries while the database is still away
BATCH = 200  # entries replayed per transaction
RECEIPTS_KEPT = timedelta(days=7)
_EXTENSION = "signup_spool"
_RECEIPTS = SpooledSignup.__table__


@dataclass
class _Replayer:
    """One app's spool in this process: its store and its replayer thread."""

    app: Flask
    store: Store
    guard: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None
    holding: bool = False
    started: bool = False

    def start(self) -> None:
        """Run the replayer unless it runs (call with `guard` held)."""
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="signup-spool", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        with self.app.app_context():
            while True:
                try:
                    with self.store.replaying() as mine:
                        if mine:
                            _drain(self.store)
                    with self.guard:
                        if not self.store.oldest(1):
                            self.holding, self.thread = False, None
                            return
                        self.holding = True  # another process drains; ours wait behind
                except Exception as exc:  # a replayer must outlive any fault
                    _note_fault(exc)
                time.sleep(PAUSE)


_said_at = [0.0]  # when the last warning was logged: one a minute, not one per try
WARN_EVERY = 60.0


def _note_fault(exc: Exception) -> None:
    away = is_away(exc)
    if time.monotonic() - _said_at[0] < WARN_EVERY:
        return
    _said_at[0] = time.monotonic()
    text = f"the database is away ({reason(exc)})" if away else repr(exc)
    log.warning("spooled signups wait: %s", text, extra={"event": "signup_spool_waiting"})


def _replayer(app: Flask | None = None) -> _Replayer:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    replayer = app.extensions.get(_EXTENSION)
    if replayer is None:
        replayer = app.extensions.setdefault(_EXTENSION, _Replayer(app, store_for(app.config)))
    return replayer


def holding() -> bool:
    """True while this process knows of spooled signups not replayed yet."""
    replayer = current_app.extensions.get(_EXTENSION)
    return bool(replayer and replayer.holding)


def hold(signup: dict[str, Any]) -> None:
    """Spool the outbox payload `signup`; SpoolUnavailable if the spool cannot take it."""
    replayer = _replayer()
    replayer.store.append(encode(new_entry(signup)))
    with replayer.guard:
        replayer.holding = True
        replayer.start()


def start_once(app: Flask) -> None:
    """At a process's first request: replay what an earlier process left in the spool."""
    replayer = _replayer(app)
    if not replayer.started:
        with replayer.guard:
            replayer.started = True
            replayer.start()


def _drain(store: Store) -> None:
    """Replay the spool, oldest first, until it is empty; raises if the database is away."""
    while lines := store.oldest(BATCH):
        entries = []
        for line in lines:
            try:
                entries.append(decode(line))
            except BadEntry as exc:  # a write cut short: it was never answered 202
                log.warning("spool line skipped: %s", exc, extra={"event": "signup_spool_bad"})
        replayed = replay(entries)
        store.drop(len(lines))
        getattr(store, "renew", lambda: None)()
        log.info(
            "replayed %d spooled signups (%d already in)",
            replayed,
            len(entries) - replayed,
            extra={"event": "signup_replayed"},
        )


def replay(entries: Sequence[dict[str, Any]]) -> int:
    """Write these spooled signups' outbox jobs, in order, skipping those replayed before;
    how many were new. One transaction: all of them or none."""
    now = utcnow()
    new = 0
    with outbox.transaction() as conn:
        receipt = _receipt(conn.dialect.name)
        for entry in entries:
            if conn.execute(receipt, {"key": entry["key"], "at": now}).first() is None:
                continue  # replayed before
            signup = dict(entry["signup"])
            slugs = signup.pop("newsletter_slugs", None)
            if slugs is not None:
                known = newsletter_index.newsletters(slugs)
                if missing := [slug for slug in slugs if slug not in known]:
                    log.warning("spooled signup dropped: no newsletter %s", ", ".join(missing))
                    continue
                signup["newsletter_ids"] = [known[slug].id for slug in slugs]
            outbox.enqueue_on(conn, TaskName.APPLY_SIGNUPS, signup, now)
            new += 1
        conn.execute(delete(_RECEIPTS).where(_RECEIPTS.c.replayed_at < now - RECEIPTS_KEPT))
    return new


def _receipt(dialect: str) -> Any:
    """INSERT a receipt unless its key is there, RETURNING the key (nothing if it was)."""
    module = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(_RECEIPTS)
        .values(
            key=bindparam("key"), replayed_at=bindparam("at", type_=_RECEIPTS.c.replayed_at.type)
        )
        .on_conflict_do_nothing()
        .returning(_RECEIPTS.c.key)
    )
