"""Sends: scheduling one, the list and one send's counters."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from service.http.schemas.common import NEXT, Id, Model, PageQuery, Time
from service.sending import summary
from service.sending.summary import STATUSES

SendStatus = Literal[STATUSES]  # type: ignore[valid-type]


class SendRequest(Model):
    """When to send; the body may be left out (now)."""

    scheduled_at: str | None = Field(
        None, description="ISO 8601; absent, null or empty: now (no zone: the newsletter's)"
    )


class SendPath(Model):
    """A send named by its id."""

    send_id: Id


class ControlPath(SendPath):
    """A send and what to do with it."""

    action: Literal["pause", "resume", "cancel"]


class SendQuery(PageQuery):
    """Filters of the list of sends."""

    newsletter: str | None = Field(None, description="a newsletter's slug")
    status: SendStatus | None = None


class FailedBatch(Model):
    """A batch of readers parked after repeated failures."""

    model_config = {"extra": "allow"}
    id: int
    readers_after_id: int
    readers_upto_id: int
    failures: int


class Send(Model):
    """A send's status, counters and times."""

    id: int
    newsletter: str
    status: SendStatus
    status_reason: str | None
    subject: str | None
    total: int
    sent: int
    failed: int
    skipped: int
    scheduled_at: Time | None
    started_at: Time | None
    finished_at: Time | None
    possible_duplicates: int = Field(
        description="readers who may have received the send twice because of a fault"
    )
    waiting: int = Field(description="readers not yet handed over")
    defer_reason: str | None = Field(
        description="the relay's last answer or connection error while deferring"
    )
    failed_batches: list[FailedBatch]
    articles_skipped: dict[str, int] = Field(
        description="articles the digest left out, by reason (`late`, `too_old`)"
    )

    @classmethod
    def of(cls, send: Any, **page: Any) -> Send:
        """The answer for a stored send (its live figures read now; `page`: those a page of
        the list read at once, `summary.progress`)."""
        return cls.model_validate(summary.figures(send, **page))


class SendCreated(Model):
    """A send was scheduled."""

    id: int
    status: SendStatus


class SendList(Model):
    """A page of sends, newest first."""

    sends: list[Send]
    next: str | None = Field(description=NEXT)
