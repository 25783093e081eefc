"""The OpenAPI shapes of the admin API's keys, audit log and paged lists (merged into
`openapi_schemas.SCHEMAS`)."""

from __future__ import annotations

from typing import Any

from service.access.keys import NAME_MAX, SCOPES

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
}
