"""Sends as operators see them, the same in the admin API and the CLI: one send, and the
list of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from service.extensions import db
from service.models import Send, SendStatus
from service.sending import batches, books


def send_json(send: Send) -> dict:
    """A send as the API shows it (and `sends show` prints it)."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    # Readers not yet handed over (deferred ones included) while the send may still go on.
    active = send.status in (SendStatus.SENDING, SendStatus.PAUSED)
    waiting = max(0, send.total - send.sent - send.failed - send.skipped) if active else 0

    return {
        "id": send.id,
        "newsletter": send.newsletter.slug,
        "status": send.status,
        "status_reason": send.status_reason,
        "subject": send.subject,
        "total": send.total,
        "sent": send.sent,
        "failed": send.failed,
        "skipped": send.skipped,
        "scheduled_at": iso(send.scheduled_at),
        "started_at": iso(send.started_at),
        "finished_at": iso(send.finished_at),
        "possible_duplicates": send.possible_duplicates,
        "waiting": waiting,
        "defer_reason": books.defer_reason(send.id) if active else None,
        "failed_batches": batches.parked_batches(send.id),
        # Articles the digest left out, by reason (late, too_old): selection.SKIP_REASONS.
        "articles_skipped": dict((send.content or {}).get("skipped") or {}),
    }


STATUSES = tuple(s.value for s in SendStatus)


def list_sends(
    newsletter_id: int | None, status: str | None, before_id: int | None, limit: int
) -> list[Send]:
    """Up to `limit` sends, newest first, older than id `before_id` (keyset paging), of one
    newsletter and in one status if given."""
    query = select(Send).order_by(Send.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(Send.id < before_id)
    if newsletter_id is not None:
        query = query.where(Send.newsletter_id == newsletter_id)
    if status is not None:
        query = query.where(Send.status == status)
    return list(db.session.scalars(query.options(joinedload(Send.newsletter))))
