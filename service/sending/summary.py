"""A send as operators see it, the same in the admin API and the CLI."""

from __future__ import annotations

from datetime import datetime

from service.models import Send
from service.sending import delivery


def send_json(send: Send) -> dict:
    """A send as the API shows it (and `sends show` prints it)."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

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
        "failed_batches": delivery.parked_batches(send.id),
        # Articles the digest left out, by reason (late, too_old): selection.SKIP_REASONS.
        "articles_skipped": dict((send.content or {}).get("skipped") or {}),
    }
