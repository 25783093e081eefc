"""Admin API for webhook endpoints: add (the answer carries the secret once), rotate its
secret, list, remove, and each endpoint's delivery attempts."""

from __future__ import annotations

from flask import Blueprint

from service.extensions import db
from service.http.contract import endpoint
from service.http.errors import api_error
from service.http.schemas.webhooks import (
    Attempt,
    AttemptList,
    Webhook,
    WebhookList,
    WebhookPath,
    WebhookRequest,
)
from service.models import WebhookEndpoint
from service.webhooks.endpoints import (
    InvalidEndpoint,
    add_endpoint,
    list_endpoints,
    recent_attempts,
    remove_endpoint,
    rotate_secret,
    secret_of,
)
from service.webhooks.events import EVENT_TYPES

bp = Blueprint("webhooks", __name__, url_prefix="/api/v1")


_HOOK = {"webhook_id": "$response.body#/id"}
NO_HOOK = {404: "no such webhook"}


@bp.post("/webhooks")
@endpoint(
    "admin",
    body=WebhookRequest,
    answers={201: Webhook},
    errors={
        422: "`required`, `invalid_url`, `private_address` (the host resolves to a private, "
        "loopback or link-local address) or `unknown_event` (naming the `available` ones)"
    },
    links={
        201: {
            "ShowAttempts": ("webhooks.webhook_attempts.get", _HOOK),
            "RotateSecret": ("webhooks.rotate_webhook_secret.post", _HOOK),
            "DeleteWebhook": ("webhooks.delete_webhook.delete", _HOOK),
        }
    },
)
def create_webhook(body: WebhookRequest):
    """Add an endpoint for `events` at `url`; the answer's `secret` is shown only here."""
    try:
        added = add_endpoint(body.url, body.events)
    except InvalidEndpoint as exc:
        extra = {"available": list(EVENT_TYPES)} if exc.code == "unknown_event" else {}
        return api_error(422, exc.code, exc.message, field=exc.field, **extra)
    return Webhook.of(added, secret=secret_of(added)), 201


@bp.post("/webhooks/<int:webhook_id>/rotate")
@endpoint("admin", path=WebhookPath, answers={200: Webhook}, errors=NO_HOOK)
def rotate_webhook_secret(webhook_id: int):
    """Give the endpoint a new `secret` (shown only here); the old one also signs for 24 h."""
    rotated = rotate_secret(webhook_id)
    if rotated is None:
        return api_error(404, "not_found", f"No webhook {webhook_id}.")
    return Webhook.of(rotated, secret=secret_of(rotated))


@bp.get("/webhooks")
@endpoint("admin", answers={200: WebhookList})
def list_webhooks():
    """Every endpoint, enabled or disabled (with the reason); never a secret."""
    return WebhookList(webhooks=[Webhook.of(e) for e in list_endpoints()], next=None)


@bp.delete("/webhooks/<int:webhook_id>")
@endpoint("admin", path=WebhookPath, answers={204: None}, errors=NO_HOOK)
def delete_webhook(webhook_id: int):
    """Remove an endpoint; events queued for it are not sent."""
    if not remove_endpoint(webhook_id):
        return api_error(404, "not_found", f"No webhook {webhook_id}.")
    return "", 204


@bp.get("/webhooks/<int:webhook_id>/attempts")
@endpoint("admin", path=WebhookPath, answers={200: AttemptList}, errors=NO_HOOK)
def webhook_attempts(webhook_id: int):
    """The endpoint's latest 100 delivery attempts, newest first, with each answer."""
    if db.session.get(WebhookEndpoint, webhook_id) is None:
        return api_error(404, "not_found", f"No webhook {webhook_id}.")
    shown = [Attempt.of(a) for a in recent_attempts(webhook_id)]
    return AttemptList(attempts=shown, next=None)
