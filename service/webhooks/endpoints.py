"""The webhook endpoints ops manage (admin API and CLI): add, rotate, list, remove, attempts.

An endpoint is added with its URL and the event types it wants; its `whsec_` secret is
shown in the answer that creates it (the receiver needs it to verify signatures) and never
listed again; it is stored sealed (`service.sealed`), as the previous one is during a
rotation. The URL must be http(s) on a public address (`network`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from service import sealed
from service.extensions import db
from service.models import WebhookAttempt, WebhookEndpoint, utcnow
from service.webhooks.events import EVENT_TYPES
from service.webhooks.network import BlockedAddress, InvalidUrl, check_host, parse_url
from service.webhooks.signing import new_secret

MAX_ATTEMPTS_SHOWN = 100
ROTATION_OVERLAP = timedelta(hours=24)


@dataclass
class InvalidEndpoint(ValueError):
    """An endpoint that cannot be added: `code` and `field` for the API, `message` for people."""

    code: str
    field: str
    message: str

    def __str__(self) -> str:
        return self.message


def check_events(events: object) -> list[str]:
    """The event types asked for, deduplicated in order; `InvalidEndpoint` if any is unknown."""
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise InvalidEndpoint("required", "events", "events: a list of event types is required")
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise InvalidEndpoint(
            "unknown_event",
            "events",
            f"unknown event type {unknown[0][:64]!r}; known: {', '.join(EVENT_TYPES)}",
        )
    return list(dict.fromkeys(events))


def check_url(url: object) -> str:
    """The URL, if a webhook may be posted there now; `InvalidEndpoint` saying why not."""
    try:
        parts = parse_url(url)
        check_host(parts, current_app.config["WEBHOOK_ALLOW_PRIVATE"])
    except InvalidUrl as exc:
        raise InvalidEndpoint("invalid_url", "url", f"url: {exc}") from None
    except BlockedAddress as exc:
        raise InvalidEndpoint("private_address", "url", f"url: {exc}") from None
    return parts.geturl()


def add_endpoint(url: object, events: object) -> WebhookEndpoint:
    """Register an endpoint for `events` at `url` with a new secret; committed."""
    chosen = check_events(events)
    secret = sealed.seal(sealed.WEBHOOK, new_secret())
    endpoint = WebhookEndpoint(url=check_url(url), events=chosen, secret=secret)
    endpoint.disabled_reason = endpoint.previous_secret = ""
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def rotate_secret(endpoint_id: int) -> WebhookEndpoint | None:
    """Give an endpoint a new secret; the old one signs too for `ROTATION_OVERLAP`, so the
    receiver can switch over (the old one moves over sealed as it is, so a secret no key opens
    any more can be rotated away). Committed; None if there is no such endpoint."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        return None
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
    endpoint.secret = sealed.seal(sealed.WEBHOOK, new_secret())
    db.session.commit()
    return endpoint


def secret_of(endpoint: WebhookEndpoint) -> str:
    """The endpoint's current `whsec_` secret in plain, for the answer that creates or rotates
    it; `sealed.Unreadable` if no configured key opens it."""
    return sealed.unseal(sealed.WEBHOOK, endpoint.secret)


def reseal_secrets(*, write: bool) -> sealed.Tally:
    """Seal every endpoint's secret (and a previous one) under the newest key (`write` false:
    only count); the labels of those no key opens."""
    endpoints = list_endpoints()
    tally = sealed.Tally()
    for attribute in ("secret", "previous_secret"):
        found = sealed.reseal_rows(
            endpoints,
            sealed.WEBHOOK,
            attribute,
            lambda e, a=attribute: f"webhook {e.id} {a}",
            write=write,
        )
        tally = tally.add(found)
    if write:
        db.session.commit()
    return tally


def list_endpoints() -> list[WebhookEndpoint]:
    """Every endpoint, oldest first."""
    return list(db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def remove_endpoint(endpoint_id: int) -> bool:
    """Delete an endpoint and its attempts (its queued events are dropped); False if unknown."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        return False
    db.session.execute(
        WebhookAttempt.__table__.delete().where(WebhookAttempt.endpoint_id == endpoint_id)
    )
    db.session.delete(endpoint)
    db.session.commit()
    return True


def recent_attempts(endpoint_id: int, limit: int = MAX_ATTEMPTS_SHOWN) -> list[WebhookAttempt]:
    """The endpoint's latest attempts, newest first."""
    return list(
        db.session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.endpoint_id == endpoint_id)
            .order_by(WebhookAttempt.id.desc())
            .limit(limit)
        )
    )
