"""`GET /openapi.json`: the OpenAPI 3 document, generated from the app's routes at request time.

Paths, methods and summaries come from `app.url_map` and the view docstrings, so a new
endpoint appears without anyone editing this file; admin views are recognised by the
`require_api_key` wrapper. Request and response bodies come from the small table below.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from apispec import APISpec
from flask import Blueprint, Flask, current_app, jsonify

from service.auth import require_api_key

bp = Blueprint("openapi", __name__)

SKIPPED_ENDPOINTS = {"static"}
DEV_PREFIX = "demo."  # the dev-only demo pages are not part of the API
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
_CONVERTER = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
_ADMIN_CODE = require_api_key(lambda: None).__code__

_STR = {"type": "string"}
_STR_NULL = {"type": "string", "nullable": True}
_TIME = {"type": "string", "format": "date-time", "nullable": True}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["status", "code", "message"],
        "properties": {
            "status": {"type": "string", "enum": ["error"]},
            "code": _STR,
            "field": _STR,
            "message": _STR,
            "suggestion": _STR,
        },
    },
    "SignupRequest": {
        "type": "object",
        "required": ["email"],
        "properties": {
            "email": _STR,
            "newsletters": {"oneOf": [_STR, {"type": "array", "items": _STR}]},
            "name": _STR,
            "locale": {"type": "string", "enum": ["en", "uk"]},
            "source_url": _STR,
            "website": {"type": "string", "description": "honeypot: must be empty"},
            "form_stamp": {
                "type": "string",
                "description": "signed render time from a hosted form (minimum time-to-submit)",
            },
            "elapsed_ms": {
                "type": "number",
                "description": "ms since the embed drew the box (minimum time-to-submit)",
            },
            "cf-turnstile-response": {"type": "string", "description": "Turnstile token"},
            "h-captcha-response": {"type": "string", "description": "hCaptcha token"},
        },
    },
    "SignupAccepted": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["pending"]},
            "code": {"type": "string", "enum": ["confirmation_sent"]},
            "message": _STR,
        },
    },
    "NewsletterFields": {
        "type": "object",
        "properties": {
            "name": _STR,
            "description": _STR,
            "schedule": {"type": "string", "nullable": True, "description": "cron expression"},
            "timezone": {"type": "string", "description": "IANA time zone, e.g. Europe/Kyiv"},
            "from": {"type": "string", "format": "email", "nullable": True},
            "min_new_articles": {"type": "integer", "minimum": 0},
            "allowed_origins": {
                "type": "array",
                "items": {"type": "string", "format": "uri"},
                "description": "origins (https://host[:port]) whose pages may sign readers up "
                "to this newsletter, besides ALLOWED_ORIGINS",
            },
            "rate_limit_per_second": {
                "type": "number",
                "minimum": 0,
                "exclusiveMinimum": True,
                "maximum": 100000,
                "nullable": True,
                "description": "messages per second for this newsletter's sends; wins over "
                "SEND_RATE_LIMIT (null: use it)",
            },
        },
    },
    "NewsletterCreate": {
        "allOf": [
            {"$ref": "#/components/schemas/NewsletterFields"},
            {"type": "object", "required": ["slug", "name"], "properties": {"slug": _STR}},
        ]
    },
    "Newsletter": {
        "allOf": [
            {"$ref": "#/components/schemas/NewsletterFields"},
            {
                "type": "object",
                "properties": {"slug": _STR, "created_at": _TIME, "updated_at": _TIME},
            },
        ]
    },
    "NewsletterList": {
        "type": "object",
        "properties": {
            "newsletters": {"type": "array", "items": {"$ref": "#/components/schemas/Newsletter"}}
        },
    },
    "Article": {
        "type": "object",
        "required": ["title", "url"],
        "properties": {
            "title": _STR,
            "url": {"type": "string", "format": "uri"},
            "summary": _STR,
            "image_url": {"type": "string", "format": "uri"},
            "authors": {"type": "array", "items": _STR},
            "published_at": {"type": "string", "format": "date-time"},
            "section": _STR,
            "editors_pick": {"type": "boolean"},
        },
    },
    "SendRequest": {"type": "object", "properties": {"scheduled_at": _TIME}},
    "Send": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "newsletter": _STR,
            "status": {
                "type": "string",
                "enum": [
                    "scheduled",
                    "sending",
                    "paused",
                    "sent",
                    "cancelled",
                    "skipped",
                    "failed",
                ],
            },
            "total": {"type": "integer"},
            "sent": {"type": "integer"},
            "failed": {"type": "integer"},
            "skipped": {"type": "integer"},
            "scheduled_at": _TIME,
            "started_at": _TIME,
            "finished_at": _TIME,
        },
    },
    "Subscriber": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "email": _STR,
            "name": _STR_NULL,
            "created_at": _TIME,
            "subscriptions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "newsletter": _STR,
                        "status": {
                            "type": "string",
                            "enum": ["pending", "confirmed", "unsubscribed", "bounced"],
                        },
                    },
                },
            },
        },
    },
    "SubscriberList": {
        "type": "object",
        "properties": {
            "subscribers": {"type": "array", "items": {"$ref": "#/components/schemas/Subscriber"}}
        },
    },
    "SubscriberExport": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "email": _STR,
            "subscriptions": {"type": "array", "items": {"type": "object"}},
            "events": {"type": "array", "items": {"type": "object"}},
            "consent_records": {"type": "array", "items": {"type": "object"}},
            "deliveries": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Erased": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "status": {"type": "string", "enum": ["erased"]}},
    },
}

# (METHOD, rule) -> request schema, success status, response schema (None: not JSON).
BODIES: dict[tuple[str, str], tuple[str | None, str, str | None]] = {
    ("POST", "/api/v1/subscriptions"): ("SignupRequest", "202", "SignupAccepted"),
    ("POST", "/api/v1/articles"): ("Article", "201", "Article"),
    ("GET", "/api/v1/newsletters"): (None, "200", "NewsletterList"),
    ("POST", "/api/v1/newsletters"): ("NewsletterCreate", "201", "Newsletter"),
    ("PATCH", "/api/v1/newsletters/<slug>"): ("NewsletterFields", "200", "Newsletter"),
    ("POST", "/api/v1/newsletters/<slug>/sends"): ("SendRequest", "201", "Send"),
    ("GET", "/api/v1/sends/<int:send_id>"): (None, "200", "Send"),
    ("GET", "/api/v1/subscribers"): (None, "200", "SubscriberList"),
    ("GET", "/api/v1/subscribers/<int:subscriber_id>/export"): (None, "200", "SubscriberExport"),
    ("DELETE", "/api/v1/subscribers/<int:subscriber_id>"): (None, "200", "Erased"),
}
_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi_paths(rule: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """A werkzeug rule as OpenAPI paths (`/sends/{send_id}`) with their path parameters.

    An `any(a, b)` converter becomes one literal path per choice.
    """
    for match in _CONVERTER.finditer(rule):
        if match["converter"] == "any":
            choices = [c.strip().strip("'\"") for c in (match["args"] or "").split(",")]
            head, tail = rule[: match.start()], rule[match.end() :]
            return [found for c in choices if c for found in openapi_paths(head + c + tail)]
    parameters = []
    for match in _CONVERTER.finditer(rule):
        kind = "integer" if match["converter"] == "int" else "string"
        parameters.append(
            {"name": match["name"], "in": "path", "required": True, "schema": {"type": kind}}
        )
    return [(_CONVERTER.sub(r"{\g<name>}", rule), parameters)]


def is_admin_view(view: Any) -> bool:
    """True if `view` is wrapped by `require_api_key` (anywhere in its decorator chain)."""
    while view is not None:
        if getattr(view, "__code__", None) is _ADMIN_CODE:
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def _operation(app: Flask, rule: Any, method: str, path: str) -> dict[str, Any]:
    view = app.view_functions[rule.endpoint]
    suffix = "" if "any(" not in rule.rule else "." + path.rstrip("/").rsplit("/", 1)[-1]
    doc = inspect.getdoc(view) or rule.endpoint
    summary, _, description = doc.partition("\n")
    operation: dict[str, Any] = {
        "operationId": f"{rule.endpoint}.{method.lower()}{suffix}",
        "summary": summary.strip(),
        "tags": [rule.endpoint.partition(".")[0]],
        "responses": {"default": {"description": "error", **_ERROR}},
    }
    if description.strip():
        operation["description"] = description.strip()
    request_schema, status, response_schema = BODIES.get((method, rule.rule), (None, "200", None))
    if request_schema:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{request_schema}"}}
            },
        }
    success: dict[str, Any] = {"description": "success"}
    if response_schema:
        success["content"] = {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{response_schema}"}}
        }
    operation["responses"][status] = success
    if is_admin_view(view):
        operation["security"] = [{"bearer": []}]
        operation["responses"]["401"] = {"description": "missing or wrong API key", **_ERROR}
    return operation


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI document for every route `app` serves right now."""
    spec = APISpec(
        title="newsletter-service",
        version="1",
        openapi_version="3.0.3",
        info={"description": "Newsletter signup, confirmation, digests and their admin API."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema)
    paths: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in SKIPPED_ENDPOINTS or rule.endpoint.startswith(DEV_PREFIX):
            continue
        for path, parameters in openapi_paths(rule.rule):
            operations, _ = paths.setdefault(path, ({}, parameters))
            for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
                operations[method.lower()] = _operation(app, rule, method, path)
    for path, (operations, parameters) in paths.items():
        if operations:
            spec.path(path=path, operations=operations, parameters=parameters or None)
    return spec.to_dict()


@bp.get("/openapi.json")
def document():
    """The OpenAPI 3 document of this service, generated from its routes."""
    return jsonify(build_spec(current_app))
