"""The OpenAPI shapes of the admin API's keys, audit log and paged lists (merged into
`openapi_schemas.SCHEMAS`)."""

from __future__ import annotations

from typing import Any

from service.access.keys import NAME_MAX, SCOPES
from service.leaving.suppression_list import DETAIL_MAX, REASON

_NEXT = {
    "type": "string",
    "nullable": True,
    "description": "cursor of the next page; null on the last",
}
_STR_OR_NULL = {"type": "string", "nullable": True}

_STR = {"type": "string"}
_STR_NULL = {"type": "string", "nullable": True}
_TIME = {"type": "string", "format": "date-time", "nullable": True}

ADMIN_SCHEMAS: dict[str, dict[str, Any]] = {
    "ApiKey": {
        "type": "object",
        "required": ["name", "prefix", "scopes", "created_at", "last_used_at"],
        "properties": {
            "name": _STR,
            "prefix": {"type": "string", "description": "the key's first characters"},
            "scopes": {"type": "array", "items": {"type": "string", "enum": list(SCOPES)}},
            "created_at": _TIME,
            "last_used_at": {
                **_TIME,
                "description": "recorded at most once a minute per key",
            },
        },
    },
    "ApiKeyList": {
        "type": "object",
        "required": ["api_keys", "next"],
        "properties": {
            "api_keys": {"type": "array", "items": {"$ref": "#/components/schemas/ApiKey"}},
            "next": {**_STR_NULL, "description": "cursor of the next page; null on the last"},
        },
    },
    "ApiKeyCreate": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {
                "type": "string",
                "minLength": 1,
                "maxLength": NAME_MAX,
                "pattern": r"^[\w.@-]+( [\w.@-]+)*$",
            },
            "scopes": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "enum": list(SCOPES)},
                "description": 'default `["admin"]`; `write` and `send` include `read`',
            },
        },
    },
    "ApiKeyCreated": {
        "allOf": [
            {"$ref": "#/components/schemas/ApiKey"},
            {
                "type": "object",
                "required": ["key"],
                "properties": {"key": {"type": "string", "description": "shown only this once"}},
            },
        ]
    },
    "ApiKeyRevoked": {
        "type": "object",
        "properties": {"name": _STR, "status": {"type": "string", "enum": ["revoked"]}},
    },
    "AuditEvent": {
        "type": "object",
        "required": ["id", "at", "event", "via", "actor", "target", "detail"],
        "properties": {
            "id": {"type": "integer"},
            "at": _TIME,
            "event": {"type": "string", "description": "e.g. `send.paused`, `api_key.revoked`"},
            "via": {"type": "string", "enum": ["api", "cli"]},
            "actor": {"type": "string", "description": "the key's name, or the CLI's OS user"},
            "target": {"type": "string", "description": "e.g. `send:12`, `newsletter:daily`"},
            "detail": {"type": "object"},
        },
    },
    "AuditLog": {
        "type": "object",
        "required": ["events", "next"],
        "properties": {
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEvent"}},
            "next": {**_STR_NULL, "description": "cursor of the next page; null on the last"},
        },
    },
    "SendList": {
        "type": "object",
        "required": ["sends", "next"],
        "properties": {
            "sends": {"type": "array", "items": {"$ref": "#/components/schemas/Send"}},
            "next": {**_STR_NULL, "description": "cursor of the next page; null on the last"},
        },
    },
    "Suppression": {
        "type": "object",
        "required": ["id", "reason", "detail", "hard", "created_at"],
        "description": "an entry of the suppression list; the address is kept only as a hash, "
        "and neither is ever shown",
        "properties": {
            "id": {"type": "integer"},
            "reason": {
                "type": "string",
                "description": "`manual`, `bounce`, `hard_bounce`, `complaint`, `erased`, "
                "`unsubscribe_all` or an operator's own category",
            },
            "detail": _STR,
            "hard": {
                "type": "boolean",
                "description": "true: not even mail the reader asks for reaches the address",
            },
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "SuppressionList": {
        "type": "object",
        "required": ["suppressions", "next"],
        "properties": {
            "suppressions": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Suppression"},
            },
            "next": _NEXT,
        },
    },
    "SuppressionCreate": {
        "type": "object",
        "required": ["email", "reason"],
        "example": {"email": "spamtrap@example.com", "reason": "manual", "detail": "ticket 42"},
        "properties": {
            "email": {"type": "string", "minLength": 1, "maxLength": 320},
            "reason": {"type": "string", "pattern": "^" + REASON.pattern + "$"},
            "detail": {
                **_STR_OR_NULL,
                "maxLength": DETAIL_MAX,
                "description": "a note (no personal data)",
            },
        },
    },
    "SuppressionRemoved": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string", "enum": ["removed"]},
        },
    },
    "TimelineEvent": {
        "type": "object",
        "required": ["kind", "at"],
        "description": "`subscription`: a status change (`newsletter`, `from_status`, "
        "`to_status`, `cause`); `consent`: a consent record (`action`, `newsletters`, `form`, "
        "`source_url`, `ip`, `user_agent`); `delivery`: the send ledger (`newsletter`, "
        "`send_id`, `subject`, `status`, `attempts`; `at` is its last change)",
        "properties": {
            "kind": {"type": "string", "enum": ["subscription", "consent", "delivery"]},
            "at": {"type": "string", "format": "date-time"},
            "newsletter": _STR_OR_NULL,
            "from_status": _STR_OR_NULL,
            "to_status": _STR,
            "cause": _STR,
            "action": _STR,
            "newsletters": {"type": "array", "items": _STR},
            "form": _STR_OR_NULL,
            "source_url": _STR_OR_NULL,
            "ip": _STR_OR_NULL,
            "user_agent": _STR_OR_NULL,
            "send_id": {"type": "integer"},
            "subject": _STR,
            "status": _STR,
            "attempts": {"type": "integer"},
        },
    },
    "Timeline": {
        "type": "object",
        "required": ["id", "consent", "events", "next"],
        "properties": {
            "id": {"type": "integer"},
            "consent": {
                "type": "array",
                "description": "each subscription's standing and consent (`consent_source`: "
                "where an import's consent came from; null when confirmed by the emailed link)",
                "items": {
                    "type": "object",
                    "required": ["newsletter", "status", "subscribed_at"],
                    "properties": {
                        "newsletter": _STR,
                        "status": _STR,
                        "subscribed_at": {"type": "string", "format": "date-time"},
                        "confirmed_at": _TIME,
                        "unsubscribed_at": _TIME,
                        "consent_source": _STR_OR_NULL,
                    },
                },
            },
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/TimelineEvent"}},
            "next": _NEXT,
        },
    },
}
