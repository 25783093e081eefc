"""A batch's lease: claimed by one worker at a time, its claim a fencing token.

A claim's attempt number is the batch's fencing token (`Lease`): every later write of the
batch (lease renewal, release, retry, done, parked) applies only while the row still carries
that token. A worker cut off past its lease (frozen, or its host off the network) that comes
back finds its token gone at its next check (`still_ours`) and stops; the watchdog
re-publishes batches whose lease ran out.

The lease is short (`SEND_LEASE_SECONDS`, 10 s by default), so a dead worker's batches are
taken over within seconds. It is renewed by the batch's own loop (every second while it
sends) and by the worker's lease keeper (`keeper`, every quarter lease) for the batches this
process holds (`hold`), so a batch waiting on a slow relay keeps its lease and only a dead
or cut-off process loses it. A batch task interrupted by the infrastructure (the database
away past its wait) is retried carrying its token, and takes its own claim back
(`claim_batch(..., token=)`) without waiting for the lease to run out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select, update

from service.extensions import db
from service.models import BatchStatus, Send, SendBatch, SendStatus, utcnow
from service.sending import setting
from service.sending.ledger import Ledger

LOST = "lease lost"  # what `still_ours` says when another worker holds the batch now
_held: dict[int, int] = {}  # this process's batches: batch id -> token (see `hold`)
_held_lock = threading.Lock()


@dataclass(frozen=True)
class Lease:
    """Batch `batch_id` as claimed by this worker; `token` is the claim's attempt number."""

    batch_id: int
    token: int

    def held(self):
        """SQL: the batch row is still this claim's (running, with this token)."""
        return and_(
            SendBatch.id == self.batch_id,
            SendBatch.attempts == self.token,
            SendBatch.status == BatchStatus.RUNNING,
        )


def claim_batch(batch_id: int, token: int | None = None) -> SendBatch | None:
    """Take the batch's lease if it is free (pending, waiting, or its worker died), or if
    it still carries `token`: this worker's own claim, whose task was interrupted."""
    now = utcnow()
    lease = timedelta(seconds=setting("SEND_LEASE_SECONDS"))
    free = [
        SendBatch.status.in_([BatchStatus.PENDING, BatchStatus.WAITING]),
        and_(SendBatch.status == BatchStatus.RUNNING, SendBatch.lease_until < now),
    ]
    if token is not None:
        free.append(and_(SendBatch.status == BatchStatus.RUNNING, SendBatch.attempts == token))
    result = db.session.execute(
        update(SendBatch)
        .where(SendBatch.id == batch_id, or_(*free))
        .values(
            status=BatchStatus.RUNNING, attempts=SendBatch.attempts + 1, lease_until=now + lease
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        return None
    return db.session.get(SendBatch, batch_id, populate_existing=True)


def hold(lease: Lease) -> None:
    """The lease keeper renews this lease until `let_go` (the batch is being worked on)."""
    with _held_lock:
        _held[lease.batch_id] = lease.token


def let_go(lease: Lease) -> None:
    """The keeper stops renewing this lease (the batch's task ended, however)."""
    with _held_lock:
        if _held.get(lease.batch_id) == lease.token:
            del _held[lease.batch_id]


def renew_held() -> int:
    """Renew every lease this process holds (one commit); return how many are still ours."""
    with _held_lock:
        held = [Lease(batch_id, token) for batch_id, token in _held.items()]
    if not held:
        return 0
    until = utcnow() + timedelta(seconds=setting("SEND_LEASE_SECONDS"))
    renewed = 0
    try:
        for lease in held:
            statement = update(SendBatch).where(lease.held()).values(lease_until=until)
            renewed += db.session.execute(statement).rowcount
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return renewed


def update_if_held(lease: Lease, **values: object) -> bool:
    """Update the batch if this claim still holds it (and commit); False if it does not."""
    result = db.session.execute(
        update(SendBatch)
        .where(lease.held())
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def still_ours(ledger: Ledger, lease: Lease) -> str:
    """Write the answers back so far, renew the lease, and re-read the send's status.

    `LOST` if another worker holds the batch now (this one was cut off past its lease).
    """
    ledger.flush()
    status = db.session.scalar(select(Send.status).where(Send.id == ledger.send_id))
    renewed = utcnow() + timedelta(seconds=setting("SEND_LEASE_SECONDS"))
    return status if update_if_held(lease, lease_until=renewed) else LOST


def release(lease: Lease, send_status: str) -> None:
    """Stop working on the batch: back to pending if the send may resume, else cancelled."""
    resumable = send_status in (SendStatus.PAUSED, SendStatus.SENDING, SendStatus.SCHEDULED)
    status = BatchStatus.PENDING if resumable else BatchStatus.CANCELLED
    update_if_held(lease, status=status, lease_until=utcnow())
