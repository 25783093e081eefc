"""Sends as operators see them, the same in the admin API and the CLI: one send, and the
list of them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.deliverability import brakes, report
from service.extensions import db
from service.models import Newsletter, Send, SendStatus
from service.sending import batches, books


def figures(send: Any, **page: Any) -> dict[str, Any]:
    """A send as operators see it, the same in the API (`Send.of`), the CLI and the console:
    its stored columns (times as datetimes) and its live figures (`progress`). `send` is a
    stored send or a row of the list, which read the newsletter's slug with it."""
    return {
        "id": send.id,
        "newsletter": getattr(send, "newsletter_slug", None) or send.newsletter.slug,
        "status": send.status,
        "status_reason": send.status_reason,
        "subject": send.subject,
        "total": send.total,
        "sent": send.sent,
        "failed": send.failed,
        "skipped": send.skipped,
        "scheduled_at": send.scheduled_at,
        "started_at": send.started_at,
        "finished_at": send.finished_at,
        "possible_duplicates": send.possible_duplicates,
        **progress(send, **page),
    }


def progress(send: Send, parked: list[dict] | None = None, skipped: dict | None = None) -> dict:
    """A send's live figures besides its columns: readers still waiting, the relay's last
    deferral, parked batches, and the articles the digest left out, by reason. For a page of
    the list, the caller passes what it read for the whole page: `parked` (its parked batches,
    `batches.parked_batches_of`) and `skipped` (its digest's skipped articles, `list_sends`)."""
    # Readers not yet handed over (deferred ones included) while the send may still go on.
    active = send.status in (SendStatus.SENDING, SendStatus.PAUSED)
    waiting = max(0, send.total - send.sent - send.failed - send.skipped) if active else 0
    return {
        "waiting": waiting,
        "defer_reason": books.defer_reason(send.id) if active else None,
        "failed_batches": batches.parked_batches(send.id) if parked is None else parked,
        # Articles the digest left out, by reason (late, too_old): selection.SKIP_REASONS.
        "articles_skipped": dict(
            (skipped if skipped is not None else (send.content or {}).get("skipped")) or {}
        ),
    }


def deliverability(send: Send) -> dict:
    """What came back about one send (`GET /api/v1/sends/<id>`, `sends show`): its figures
    and rates (`deliverability.report`), the reason it is paused, and a warning when its
    complaint rate is above the warning level (`deliverability.brakes`)."""
    figures = report.send_report(send)
    counts = {
        "complained": figures["complained"],
        "bounced_hard": figures["bounced_hard"],
        "refused_policy": figures["refused_policy"],
    }
    _, warning = brakes.verdict(send.sent, send.failed, counts)
    paused = send.status == SendStatus.PAUSED
    return figures | {"paused_reason": send.status_reason if paused else None, "warning": warning}


def percent(rate: float) -> str:
    """A rate as people read it: 0.0031 -> "0.31%"."""
    return f"{rate * 100:.2f}%"


STATUSES = tuple(s.value for s in SendStatus)


def list_sends(
    newsletter_id: int | None, status: str | None, before_id: int | None, limit: int
) -> list[Send]:
    """Up to `limit` sends, newest first, older than id `before_id` (keyset paging), of one
    newsletter and in one status if given."""
    query = select(Send).order_by(Send.id.desc()).limit(limit)
    return list(db.session.scalars(_narrowed(query, newsletter_id, status, before_id)))


def _narrowed(query: Any, newsletter_id: int | None, status: str | None,
              before_id: int | None) -> Any:  # fmt: skip
    if before_id is not None:
        query = query.where(Send.id < before_id)
    if newsletter_id is not None:
        query = query.where(Send.newsletter_id == newsletter_id)
    if status is not None:
        query = query.where(Send.status == status)
    return query


LISTED = (Send.id, Send.status, Send.status_reason, Send.subject, Send.total, Send.sent,
          Send.failed, Send.skipped, Send.scheduled_at, Send.started_at, Send.finished_at,
          Send.possible_duplicates)  # fmt: skip


def send_rows(
    newsletter_id: int | None, status: str | None, before_id: int | None, limit: int
) -> list[Any]:
    """`list_sends` as rows of the columns a page of the API's list shows (`LISTED`; no ORM
    object per row, never an issue's bodies or frozen content), with `newsletter_slug` and
    `articles_skipped` (the digest's skipped articles, one JSON path)."""
    query = (
        select(*LISTED, Newsletter.slug.label("newsletter_slug"),
               Send.content["skipped"].label("articles_skipped"))
        .join(Newsletter, Newsletter.id == Send.newsletter_id)
        .order_by(Send.id.desc())
        .limit(limit)
    )  # fmt: skip
    return list(db.session.execute(_narrowed(query, newsletter_id, status, before_id)))
