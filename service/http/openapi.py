"""`GET /openapi.json`: the OpenAPI 3 document, generated from the app's routes at request time.

Paths, methods and summaries come from `app.url_map` and the view docstrings, so a new
endpoint appears without anyone editing this file; admin views are recognised by the scope
they declare with `require_scope`. Bodies, parameters and answers come from the tables in
`openapi_tables` and the shapes in `openapi_schemas`.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from apispec import APISpec
from flask import Blueprint, Flask, current_app, jsonify

from service.http import input_guard
from service.http import webhooks as webhook_api
from service.http.auth import required_scope
from service.http.openapi_schemas import SCHEMAS
from service.http.openapi_tables import (
    ALSO_HTML,
    BODIES,
    ERRORS,
    FORM_FIELDS,
    FORM_TYPES,
    HEADERS,
    HTML,
    LINKS,
    MEDIA,
    OPTIONAL_BODIES,
    QUERY,
    RATE_LIMITED,
)

bp = Blueprint("openapi", __name__)

SKIPPED_ENDPOINTS = {"static"}
DEV_PREFIX = "demo."  # the dev-only demo pages are not part of the API
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
_CONVERTER = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")

# Collections that declare their own tables beside their views.
for _api in (webhook_api,):
    SCHEMAS.update(_api.SCHEMAS)
    BODIES.update(_api.BODIES)
    ERRORS.update(_api.ERRORS)
    LINKS.update(_api.LINKS)

_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_PAGE = {"schema": {"type": "string"}}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}
SCOPE_NOTE = {
    "read": " (or `write`, `send`, `admin`)",
    "write": " (or `admin`)",
    "send": " (or `admin`)",
}
API_DESCRIPTION = (
    "Newsletter signup, confirmation, digests and their admin API.\n\n"
    "Every route refuses, before its view runs: a body over 16 KiB (413 `too_large`), JSON "
    f"nested more than {input_guard.MAX_JSON_DEPTH} levels or holding NaN/Infinity (400 "
    "`bad_request`), a NUL character anywhere in the path, query, form or JSON (400 "
    f"`bad_request`, naming the field); an id above {input_guard.MAX_ID} matches no route "
    "(404); a `locale` (query, form or JSON field) with no catalogue is a 422 "
    "`unknown_locale` naming the `available` ones. The 16 KiB hold whatever the body's framing "
    "(`Content-Length` or chunked). Errors share one shape (`Error`); hosted pages answer "
    "theirs as a page."
)


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
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if match["converter"] == "int":
            schema = {"type": "integer", "minimum": 0, "maximum": input_guard.MAX_ID}
        parameters.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    return [(_CONVERTER.sub(r"{\g<name>}", rule), parameters)]


def _content(media: tuple[str, ...], schema: str | None) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for kind in media:
        if kind == "application/json":
            ref = {"$ref": f"#/components/schemas/{schema}"} if schema else {}
            content[kind] = {"schema": ref}
        else:
            content[kind] = _PAGE
    return content


def _request_body(endpoint: str, method: str, rule: str) -> dict[str, Any] | None:
    request_schema = BODIES.get((method, rule), (None, "", None))[0]
    if request_schema:
        content = _content(("application/json",), request_schema)
        if endpoint in ALSO_HTML:
            ref = content["application/json"]
            content.update(dict.fromkeys(FORM_TYPES, ref))
        return {"required": (method, rule) not in OPTIONAL_BODIES, "content": content}
    if endpoint in FORM_FIELDS:
        fields = {name: {"type": "string"} for name in FORM_FIELDS[endpoint]}
        form = {"schema": {"type": "object", "properties": fields}}
        return {"required": False, "content": dict.fromkeys(FORM_TYPES, form)}
    return None


def _operation(app: Flask, rule: Any, method: str, path: str) -> dict[str, Any]:
    view = app.view_functions[rule.endpoint]
    suffix = "" if "any(" not in rule.rule else "." + path.rstrip("/").rsplit("/", 1)[-1]
    doc = inspect.getdoc(view) or rule.endpoint
    summary, _, description = doc.partition("\n")
    media = MEDIA.get(rule.endpoint, ("application/json",))
    if rule.endpoint in ALSO_HTML:
        media = ("application/json", HTML)
    error_media = {"application/json": _ERROR["content"]["application/json"]}
    if HTML in media:
        error_media[HTML] = _PAGE
    operation: dict[str, Any] = {
        "operationId": f"{rule.endpoint}.{method.lower()}{suffix}",
        "summary": summary.strip(),
        "tags": [rule.endpoint.partition(".")[0]],
        "responses": {"default": {"description": "error", "content": error_media}},
    }
    if description.strip():
        operation["description"] = description.strip()
    if rule.endpoint in QUERY:
        operation["parameters"] = QUERY[rule.endpoint]
    body = _request_body(rule.endpoint, method, rule.rule)
    if body:
        operation["requestBody"] = body
        operation["responses"]["413"] = {
            "description": "`too_large`: the body is over 16 KiB",
            **_ERROR,
        }
    _, status, response_schema = BODIES.get((method, rule.rule), (None, "200", None))
    success: dict[str, Any] = {"description": "success"}
    if response_schema or media != ("application/json",):
        success["content"] = _content(media, response_schema)
    if rule.endpoint in HEADERS:
        success["headers"] = HEADERS[rule.endpoint]
    operation["responses"][status] = success
    for code, links in LINKS.get((method, rule.rule), {}).items():
        operation["responses"][code]["links"] = {
            name: {"operationId": target, "parameters": parameters}
            for name, (target, parameters) in links.items()
        }
    if (method, rule.rule) == ("POST", "/api/v1/articles"):
        operation["responses"]["200"] = {"description": "only updates", **success}
    for code, text in ERRORS.get((method, rule.rule), {}).items():
        operation["responses"][code] = {"description": text, "content": error_media}
    if "503" in operation["responses"]:
        operation["responses"]["503"]["headers"] = _RETRY_AFTER
    if (method, rule.rule) in RATE_LIMITED:
        operation["responses"]["429"] = {
            "description": "`rate_limited`: too many requests from this address or IP",
            "headers": _RETRY_AFTER,
            "content": error_media,
        }
    scope = required_scope(view)
    if scope:
        operation["security"] = [{"bearer": []}]
        operation["x-required-scope"] = scope
        operation["description"] = (
            f"{operation.get('description', '')}\n\nNeeds a key with scope `{scope}`"
            f"{SCOPE_NOTE.get(scope, '')}."
        ).strip()
        operation["responses"]["401"] = {
            "description": "`unauthorized`: missing or wrong API key",
            "headers": {
                "WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}
            },
            **_ERROR,
        }
        operation["responses"]["503"] = {
            "description": "`database_unavailable`: the database is away; retry after "
            "`Retry-After` seconds",
            "headers": _RETRY_AFTER,
            **_ERROR,
        }
        operation["responses"]["403"] = {
            "description": f"`insufficient_scope`: the key lacks scope `{scope}` (named in "
            "`scope`)",
            "headers": {
                "WWW-Authenticate": {
                    "description": '`Bearer error="insufficient_scope"`',
                    "schema": {"type": "string"},
                }
            },
            **_ERROR,
        }
    return operation


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI document for every route `app` serves right now."""
    spec = APISpec(
        title="newsletter-service",
        version="1",
        openapi_version="3.0.3",
        info={"description": API_DESCRIPTION},
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
