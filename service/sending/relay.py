"""Concurrent SMTP connections per worker process: a pool of sender threads.

A far relay answers each command after a round trip, so one connection carries a few dozen
messages a second. Batches hand finished messages to this process-wide pool of
`SEND_CONNECTIONS` threads, each holding ONE persistent transport (reconnecting on failure),
and record the answers as they come back. Database connections stay one per Celery thread;
the relay sees at most `SEND_CONNECTIONS` connections per worker process.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from flask import current_app

from service.config import ROOT
from service.mail.transports import Transport, transport_from_url
from service.sending import setting

_local = threading.local()
_lock = threading.Lock()
_pools: dict[tuple[str, int], ThreadPoolExecutor] = {}


def _transport(url: str) -> Transport:
    cached = getattr(_local, "transport", None)
    if cached is None or _local.url != url:
        if cached is not None:
            cached.close()
        _local.transport = transport_from_url(url, base_dir=ROOT)
        _local.url = url
    return _local.transport


def _send(url: str, message: bytes, sender: str, recipient: str, smtputf8: bool) -> str:
    return _transport(url).send(message, sender, [recipient], smtputf8=smtputf8)


def connections() -> int:
    """How many SMTP connections this process keeps (the pool's size)."""
    return max(1, int(setting("SEND_CONNECTIONS")))


def submit(message: bytes, sender: str, recipient: str, smtputf8: bool) -> Future[str]:
    """Queue `message` for sending on one of the pool's connections; the future has the answer."""
    url = current_app.config["MAIL_URL"]
    key = (url, connections())
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = ThreadPoolExecutor(key[1], thread_name_prefix="smtp")
    return pool.submit(_send, url, message, sender, recipient, smtputf8)
