"""Concurrent SMTP connections per worker process: a pool of sender threads.

A far relay answers each command after a round trip, so one connection carries a few dozen
messages a second. Batches hand finished messages to this process-wide pool of
`SEND_CONNECTIONS` threads, each holding ONE persistent transport (reconnecting on failure),
and collect the answers as they come back. Database connections stay one per Celery thread;
the relay sees at most `SEND_CONNECTIONS` connections per worker process.

The hand-over is two C-level `queue.SimpleQueue`s per message (jobs in, answers out to the
batch's own queue) rather than an executor and a `Future` each: a future costs a condition
variable and a lock round per message, which at thousands of messages a second is CPU the
sending itself needs.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, NamedTuple

from flask import current_app

from service.config import ROOT
from service.mail.transports import Transport, transport_from_url
from service.sending import setting

_lock = threading.Lock()
_pools: dict[tuple[str, int], Pool] = {}


class Answer(NamedTuple):
    """The relay's answer to one submitted message: `result` text, or the `error` raised."""

    tag: Any
    result: str | None
    error: BaseException | None


def connections() -> int:
    """How many SMTP connections this process keeps (the pool's size)."""
    return max(1, int(setting("SEND_CONNECTIONS")))


def _sender(url: str, jobs: queue.SimpleQueue) -> None:
    """One pool thread: one transport, sending jobs until the process ends."""
    transport: Transport | None = None
    while True:
        message, sender, recipient, smtputf8, answers, tag = jobs.get()
        try:
            if transport is None:  # a bad URL is the batch's error, not a dead thread
                transport = transport_from_url(url, base_dir=ROOT)
            result = transport.send(message, sender, [recipient], smtputf8=smtputf8)
        except BaseException as exc:  # handed to the batch, which decides
            answers.put(Answer(tag, None, exc))
            if not isinstance(exc, Exception):
                raise
        else:
            answers.put(Answer(tag, result, None))


class Pool:
    """This process's sender threads for one relay URL (made once, shared by all batches)."""

    def __init__(self, url: str, size: int) -> None:
        self.size = size
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        for n in range(size):
            threading.Thread(
                target=_sender, args=(url, self._jobs), name=f"smtp-{n}", daemon=True
            ).start()

    def submit(
        self,
        message: bytes,
        sender: str,
        recipient: str,
        smtputf8: bool,
        answers: queue.SimpleQueue,
        tag: Any,
    ) -> None:
        """Queue `message` for one of the connections; its `Answer` goes to `answers`."""
        self._jobs.put((message, sender, recipient, smtputf8, answers, tag))


def pool() -> Pool:
    """The pool for the app's `MAIL_URL` and `SEND_CONNECTIONS`, started on first use."""
    key = (current_app.config["MAIL_URL"], connections())
    with _lock:
        found = _pools.get(key)
        if found is None:
            found = _pools[key] = Pool(*key)
    return found
