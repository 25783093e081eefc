"""Webhook endpoints (signed events out) and their delivery attempts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from service.http.schemas.common import Id, Model, Time, fields_of
from service.webhooks.events import EVENT_TYPES

Event = Literal[EVENT_TYPES]  # type: ignore[valid-type]


class WebhookRequest(Model):
    """Where to post which events."""

    error_codes = {"url": "invalid_url", "events": "unknown_event"}

    url: str = Field(description="http(s), on a public address")
    events: list[str] = Field(min_length=1, description="event types: " + ", ".join(EVENT_TYPES))


class WebhookPath(Model):
    """An endpoint named by its id."""

    webhook_id: Id


class Webhook(Model):
    """An endpoint; `secret` only when it is created or rotated."""

    id: int
    url: str
    events: list[str]
    created_at: Time
    enabled: bool
    disabled_at: Time | None
    disabled_reason: str | None
    paused_until: Time | None
    secret: str | None = Field(None, description="`whsec_...`, only when created or rotated")
    previous_secret_expires_at: Time | None = Field(
        None, description="after a rotation: until then the old secret signs too"
    )

    @classmethod
    def of(cls, endpoint: Any, *, secret: str | None = None) -> Webhook:
        """The answer for a stored endpoint; with `secret` (its plain secret, just created or
        rotated) that and when a rotated-away one stops signing. Never the stored value."""
        skip: tuple[str, ...] = ("secret", "previous_secret_expires_at")
        if secret is not None:
            skip = () if endpoint.previous_secret_expires_at else ("previous_secret_expires_at",)
        values = fields_of(
            endpoint,
            cls,
            skip,
            **({"secret": secret} if secret is not None else {}),
            events=list(endpoint.events),
            enabled=endpoint.disabled_at is None,
            disabled_reason=endpoint.disabled_reason or None,
        )
        return cls.model_validate(values)


class WebhookList(Model):
    """Every endpoint, enabled or not; never a secret."""

    webhooks: list[Webhook]
    next: str | None = None


class Attempt(Model):
    """One delivery attempt and the endpoint's answer."""

    id: int
    message_id: str
    event: str
    attempted_at: Time
    status: int | None
    response: str
    error: str | None
    duration_ms: int
    outcome: Literal["delivered", "retrying", "gave_up", "disabled"]

    @classmethod
    def of(cls, attempt: Any) -> Attempt:
        """The answer for a stored attempt."""
        return cls.model_validate(
            fields_of(
                attempt,
                cls,
                event=attempt.event_type,
                status=attempt.status_code,
                response=attempt.response_excerpt,
                error=attempt.error or None,
            )
        )


class AttemptList(Model):
    """The latest 100 attempts, newest first."""

    attempts: list[Attempt]
    next: str | None = None
