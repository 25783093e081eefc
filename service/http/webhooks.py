"""Admin API for webhook endpoints: add (the answer carries the secret once), rotate its
secret, list, remove, and each endpoint's delivery attempts. Its OpenAPI schemas sit beside it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from service.extensions import db
from service.http.auth import require_scope
from service.http.errors import api_error
from service.models import WebhookEndpoint
from service.webhooks.endpoints import (
    InvalidEndpoint,
    add_endpoint,
    attempt_json,
    endpoint_json,
    list_endpoints,
    recent_attempts,
    remove_endpoint,
    rotate_secret,
)
from service.webhooks.events import EVENT_TYPES

bp = Blueprint("webhooks", __name__, url_prefix="/api/v1")


@bp.post("/webhooks")
@require_scope("admin")
def create_webhook():
    """Add an endpoint for `events` at `url`; the answer's `secret` is shown only here."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return api_error(400, "bad_request", "The body must be a JSON object.")
    try:
        endpoint = add_endpoint(body.get("url"), body.get("events"))
    except InvalidEndpoint as exc:
        extra = {"available": list(EVENT_TYPES)} if exc.code == "unknown_event" else {}
        return api_error(422, exc.code, exc.message, field=exc.field, **extra)
    return jsonify(endpoint_json(endpoint, with_secret=True)), 201


@bp.post("/webhooks/<int:webhook_id>/rotate")
@require_scope("admin")
def rotate_webhook_secret(webhook_id: int):
    """Give the endpoint a new `secret` (shown only here); the old one also signs for 24 h."""
    endpoint = rotate_secret(webhook_id)
    if endpoint is None:
        return api_error(404, "not_found", f"No webhook {webhook_id}.")
    return jsonify(endpoint_json(endpoint, with_secret=True))


@bp.get("/webhooks")
@require_scope("admin")
def list_webhooks():
    """Every endpoint, enabled or disabled (with the reason); never a secret."""
    return jsonify(webhooks=[endpoint_json(e) for e in list_endpoints()], next=None)


@bp.delete("/webhooks/<int:webhook_id>")
@require_scope("admin")
def delete_webhook(webhook_id: int):
    """Remove an endpoint; events queued for it are not sent."""
    if not remove_endpoint(webhook_id):
        return api_error(404, "not_found", f"No webhook {webhook_id}.")
    return "", 204


@bp.get("/webhooks/<int:webhook_id>/attempts")
@require_scope("admin")
def webhook_attempts(webhook_id: int):
    """The endpoint's latest 100 delivery attempts, newest first, with each answer."""
    if db.session.get(WebhookEndpoint, webhook_id) is None:
        return api_error(404, "not_found", f"No webhook {webhook_id}.")
    return jsonify(attempts=[attempt_json(a) for a in recent_attempts(webhook_id)], next=None)


_STR = {"type": "string"}
_NULL_STR = {"type": "string", "nullable": True}
_EVENTS = {"type": "array", "items": {"type": "string", "enum": list(EVENT_TYPES)}, "minItems": 1}
SCHEMAS: dict[str, dict[str, Any]] = {
    "WebhookRequest": {
        "type": "object",
        "required": ["url", "events"],
        "properties": {
            "url": {"type": "string", "description": "http(s), on a public address"},
            "events": _EVENTS,
        },
    },
    "Webhook": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "url": _STR,
            "events": _EVENTS,
            "secret": {
                "type": "string",
                "description": "`whsec_...`, only when created or rotated",
            },
            "previous_secret_expires_at": {
                "type": "string",
                "format": "date-time",
                "description": "after a rotation: until then the old secret signs too",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "enabled": {"type": "boolean"},
            "disabled_at": {"type": "string", "format": "date-time", "nullable": True},
            "disabled_reason": _NULL_STR,
            "paused_until": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
    "WebhookList": {
        "type": "object",
        "properties": {
            "webhooks": {"type": "array", "items": {"$ref": "#/components/schemas/Webhook"}},
            "next": _NULL_STR,
        },
    },
    "WebhookAttempts": {
        "type": "object",
        "properties": {
            "attempts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "message_id": _STR,
                        "event": _STR,
                        "attempted_at": {"type": "string", "format": "date-time"},
                        "status": {"type": "integer", "nullable": True},
                        "response": _STR,
                        "error": _NULL_STR,
                        "duration_ms": {"type": "integer"},
                        "outcome": {
                            "type": "string",
                            "enum": ["delivered", "retrying", "gave_up", "disabled"],
                        },
                    },
                },
            },
            "next": _NULL_STR,
        },
    },
}
BODIES = {
    ("POST", "/api/v1/webhooks"): ("WebhookRequest", "201", "Webhook"),
    ("GET", "/api/v1/webhooks"): (None, "200", "WebhookList"),
    ("DELETE", "/api/v1/webhooks/<int:webhook_id>"): (None, "204", None),
    ("POST", "/api/v1/webhooks/<int:webhook_id>/rotate"): (None, "200", "Webhook"),
    ("GET", "/api/v1/webhooks/<int:webhook_id>/attempts"): (None, "200", "WebhookAttempts"),
}
_HOOK = {"webhook_id": "$response.body#/id"}
LINKS = {
    ("POST", "/api/v1/webhooks"): {
        "201": {
            "ShowAttempts": ("webhooks.webhook_attempts.get", _HOOK),
            "RotateSecret": ("webhooks.rotate_webhook_secret.post", _HOOK),
            "DeleteWebhook": ("webhooks.delete_webhook.delete", _HOOK),
        }
    },
}
ERRORS = {
    ("POST", "/api/v1/webhooks"): {
        "400": "`bad_request`: the body is not a JSON object",
        "422": "`required`, `invalid_url`, `private_address` (the host resolves to a private, "
        "loopback or link-local address) or `unknown_event` (naming the `available` ones)",
    },
    ("DELETE", "/api/v1/webhooks/<int:webhook_id>"): {"404": "no such webhook"},
    ("POST", "/api/v1/webhooks/<int:webhook_id>/rotate"): {"404": "no such webhook"},
    ("GET", "/api/v1/webhooks/<int:webhook_id>/attempts"): {"404": "no such webhook"},
}
