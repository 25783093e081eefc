"""A worker's lease keeper: its batches keep their leases, its peers' dead batches are taken over.

One daemon thread per worker process, started when the worker is ready. Every quarter of
`SEND_LEASE_SECONDS` it renews the leases of the batches this process is working on
(`lease.hold`), so a lease runs out only when its process is dead, frozen or cut off, never
because a batch waited on a slow relay. Each time it also runs the watchdog, so a dead
peer's batches are re-published within about a lease and a half of its death by the
workers themselves, without waiting for beat's tick (whose task may queue behind busy
batches). A database that cannot be reached only costs a warning per outage.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from service.extensions import db
from service.sending import setting
from service.sending.lease import renew_held
from service.sending.watchdog import watchdog

log = logging.getLogger(__name__)
_started: set[int] = set()  # apps whose keeper runs in this process (by id)
_lock = threading.Lock()


def start(app: Flask) -> None:
    """Start this process's lease keeper for `app` (once; later calls do nothing)."""
    with _lock:
        if id(app) in _started:
            return
        _started.add(id(app))
    threading.Thread(target=_keep, args=(app,), name="lease-keeper", daemon=True).start()


def _keep(app: Flask) -> None:
    """Renew held leases and run the watchdog every quarter lease."""
    failing = False
    while True:
        with app.app_context():
            period = max(0.2, setting("SEND_LEASE_SECONDS") / 4)
            try:
                renew_held()
                watchdog()
                if failing:
                    log.info("lease keeper: the database answers again")
                failing = False
            except Exception as error:  # the database away: the leases run out, as they should
                if not failing:
                    log.warning("lease keeper: cannot renew leases: %s", error)
                failing = True
            finally:
                db.session.remove()
        time.sleep(period)
