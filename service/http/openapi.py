"""`GET /openapi.json`: the OpenAPI 3.1 document, generated at request time from the routes and
what each view declares with `contract.endpoint` (its scope and its pydantic models). Nothing
here names an endpoint: a new view with a declaration appears by itself.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel, TypeAdapter

from service.http import input_guard
from service.http.contract import FORM_TYPES, PUBLIC, Declaration, declaration, hosted
from service.http.schemas.common import Error

bp = Blueprint("openapi", __name__)

SKIPPED_METHODS = {"HEAD", "OPTIONS"}
_CONVERTER = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
_REF = "#/components/schemas/{model}"
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
    "(`Content-Length` or chunked). A request that does not fit its models is a 422 "
    "(`required` or `invalid`, naming the `field`); a body that is no JSON object a 400. "
    "Errors share one shape (`Error`)."
)
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}


class Components:
    """The shared schemas, filled as models are referenced."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def schema(self, kind: Any, mode: str = "validation") -> dict[str, Any]:
        """A `$ref` to a model (registered with the models it uses), or an inline schema."""
        if isinstance(kind, tuple):
            return {"oneOf": [self.schema(one, mode) for one in kind]}
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found = kind.model_json_schema(ref_template=_REF, mode=mode)  # type: ignore[arg-type]
            name = kind.__name__
        else:
            found = TypeAdapter(kind).json_schema(ref_template=_REF, mode=mode)  # type: ignore[arg-type]
            name = None
        self.schemas.update(found.pop("$defs", {}))
        if name is None:
            return found
        self.schemas[name] = found
        return {"$ref": _REF.format(model=name)}


def openapi_paths(rule: str) -> list[tuple[str, list[str]]]:
    """A werkzeug rule as OpenAPI paths (`/sends/{send_id}`) with their parameter names; an
    `any(a, b)` converter becomes one literal path per choice."""
    for match in _CONVERTER.finditer(rule):
        if match["converter"] == "any":
            choices = [c.strip().strip("'\"") for c in (match["args"] or "").split(",")]
            head, tail = rule[: match.start()], rule[match.end() :]
            return [found for c in choices if c for found in openapi_paths(head + c + tail)]
    names = [match["name"] for match in _CONVERTER.finditer(rule)]
    return [(_CONVERTER.sub(r"{\g<name>}", rule), names)]


def _parameters(declared: Declaration, names: list[str], parts: Components) -> list[dict]:
    found: list[dict[str, Any]] = []
    for where, model, only in (("path", declared.path, names), ("query", declared.query, None)):
        if model is None:
            continue
        schema = model.model_json_schema(ref_template=_REF)
        parts.schemas.update(schema.pop("$defs", {}))
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            if only is not None and name not in only:
                continue
            description = prop.pop("description", None)
            prop.pop("title", None)
            parameter = {"name": name, "in": where, "required": where == "path" or name in
                         required, "schema": prop}  # fmt: skip
            if description:
                parameter["description"] = description
            found.append(parameter)
    declared_names = {p["name"] for p in found if p["in"] == "path"}
    for name in names:  # a path part no model names: a non-empty string
        if name not in declared_names:
            found.append({"name": name, "in": "path", "required": True,
                          "schema": {"type": "string", "minLength": 1}})  # fmt: skip
    return found


def _form_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model as a plain form carries it: the same fields, none of them null (a form has
    only strings; an absent field is the null)."""
    schema = model.model_json_schema(ref_template=_REF)
    for prop in schema.get("properties", {}).values():
        choices = [c for c in prop.get("anyOf", []) if c != {"type": "null"}]
        if "anyOf" in prop:
            prop.pop("anyOf")
            prop.update(choices[0] if len(choices) == 1 else {"anyOf": choices})
        prop.pop("default", None)
    return schema


def _error(parts: Components, media: tuple[str, ...] = ()) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": parts.schema(Error, "serialization")}}
    for kind in media:
        content.setdefault(kind, {"schema": {"type": "string"}})
    return {"content": content}


def _answer(kind: Any, parts: Components) -> dict[str, Any]:
    if kind is None:
        return {"description": "success"}
    if isinstance(kind, str):  # a media type: a page, a text, or JSON no model describes
        schema = {} if kind == "application/json" else {"type": "string"}
        return {"description": "success", "content": {kind: {"schema": schema}}}
    if isinstance(kind, list):  # several media types
        content = {media: {"schema": {"type": "string"}} for media in kind}
        return {"description": "success", "content": content}
    return {
        "description": "success",
        "content": {"application/json": {"schema": parts.schema(kind, "serialization")}},
    }


def operation(view: Any, endpoint: str, method: str, path: str, names: list[str],
              parts: Components) -> dict[str, Any]:  # fmt: skip
    """One operation of the document, from the view's declaration and docstring."""
    declared = declaration(view)
    assert declared is not None
    doc = inspect.getdoc(view) or endpoint
    summary, _, description = doc.partition("\n")
    html = tuple(m for m in declared.media if m != "application/json")
    op: dict[str, Any] = {
        "operationId": f"{endpoint}.{method.lower()}",
        "summary": summary.strip(),
        "tags": [endpoint.partition(".")[0]],
        "responses": {"default": {"description": "error", **_error(parts, html)}},
    }
    parameters = _parameters(declared, names, parts)
    if parameters:
        op["parameters"] = parameters
    if declared.body is not None:
        schema = parts.schema(declared.body)
        content = {"application/json": {"schema": schema}} if declared.json_body else {}
        for kind in declared.request_media:  # an upload
            text = {"type": "string"}
            content[kind] = {"schema": schema if kind == "multipart/form-data" else text}
        if declared.forms:
            form = _form_schema(declared.body)
            content.update({kind: {"schema": form} for kind in FORM_TYPES})
        op["requestBody"] = {"required": declared.body_required, "content": content}
        op["responses"]["413"] = {"description": "`too_large`: the body is over 16 KiB",
                                  **_error(parts)}  # fmt: skip
    for status, kind in declared.answers.items():
        answer = _answer(kind, parts)
        if html and 200 <= status < 300 and "content" in answer:  # a browser's form gets a page
            for media in html:
                answer["content"].setdefault(media, {"schema": {"type": "string"}})
        if status in declared.headers:
            answer["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in declared.headers[status].items()
            }
        if status in declared.links:
            answer["links"] = {
                name: {"operationId": target, "parameters": parameters}
                for name, (target, parameters) in declared.links[status].items()
            }
        op["responses"][str(status)] = answer
    for status, text in declared.errors.items():
        op["responses"][str(status)] = {"description": text, **_error(parts, html)}
    if "503" in op["responses"]:
        op["responses"]["503"]["headers"] = _RETRY_AFTER
    if declared.rate_limited:
        op["responses"]["429"] = {
            "description": "`rate_limited`: too many requests from this address or IP",
            "headers": _RETRY_AFTER,
            **_error(parts, html),
        }
    if description.strip():
        op["description"] = description.strip()
    if declared.scope != PUBLIC:
        _secure(op, declared.scope, parts)
    return op


def _secure(op: dict[str, Any], scope: str, parts: Components) -> None:
    op["security"] = [{"bearer": []}]
    op["x-required-scope"] = scope
    op["description"] = (
        f"{op.get('description', '')}\n\nNeeds a key with scope `{scope}`"
        f"{SCOPE_NOTE.get(scope, '')}."
    ).strip()
    op["responses"]["401"] = {
        "description": "`unauthorized`: missing or wrong API key",
        "headers": {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
        **_error(parts),
    }
    op["responses"]["403"] = {
        "description": f"`insufficient_scope`: the key lacks scope `{scope}` (named in `scope`)",
        "headers": {
            "WWW-Authenticate": {
                "description": '`Bearer error="insufficient_scope"`',
                "schema": {"type": "string"},
            }
        },
        **_error(parts),
    }
    op["responses"].setdefault(
        "503",
        {
            "description": "`database_unavailable`: the database is away; retry after "
            "`Retry-After` seconds",
            "headers": _RETRY_AFTER,
            **_error(parts),
        },
    )


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI document for every declared route `app` serves right now."""
    parts = Components()
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        if declaration(view) is None:
            continue
        for path, names in openapi_paths(rule.rule):
            for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
                op = operation(view, rule.endpoint, method, path, names, parts)
                if "any(" in rule.rule:
                    op["operationId"] += "." + path.rstrip("/").rsplit("/", 1)[-1]
                paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "newsletter-service", "version": "1", "description": API_DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(parts.schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@bp.get("/openapi.json")
@hosted("application/json")
def document():
    """The OpenAPI 3.1 document of this service, generated from its declared routes."""
    return jsonify(build_spec(current_app))
