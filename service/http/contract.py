"""One declaration per endpoint: `@endpoint(...)` names the scope a view needs and the pydantic
models of its path, query, body and answers. The same declaration checks each request (a
failure answers in the service's error shape) and is what `/openapi.json` is built from.

    @bp.get("/sends")
    @endpoint("read", query=SendQuery, answers={200: SendList}, errors={422: "..."})
    def list_sends(query: SendQuery): ...

A view gets the validated `query` and `body` as keyword arguments and may return a model
(serialised through its own definition), a `(model, status)` pair, or any Flask answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Response, jsonify, request
from pydantic import BaseModel, TypeAdapter, ValidationError

from service.http.auth import require_scope
from service.http.errors import api_error

PUBLIC = "public"  # the scope of an endpoint that needs no key
HTML = "text/html"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
BAD_BODY = "The body must be a JSON object."


@dataclass(frozen=True)
class Declaration:
    """What one view declares: who may call it, what it takes and what it answers."""

    scope: str
    path: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: Any = None  # a model, or a type (a union, a list) read through a TypeAdapter
    body_required: bool = True
    answers: dict[int, Any] = field(default_factory=dict)  # status -> model, None, or media
    errors: dict[int, str] = field(default_factory=dict)  # status -> what it means
    links: dict[int, dict[str, tuple[str, dict[str, str]]]] = field(default_factory=dict)
    headers: dict[int, dict[str, str]] = field(default_factory=dict)  # status -> name: meaning
    forms: bool = False  # the body may also come as a plain form (its fields as strings)
    json_body: bool = True  # False: a plain form only (a hosted page's)
    rate_limited: bool = False
    validate: bool = True  # False: the view reads the body itself (after its bot traps)
    media: tuple[str, ...] = ("application/json",)  # of the success answer
    # a body in other media than JSON (an upload): `body` describes the multipart form, any
    # other type carries the whole body as text; the view reads it itself (validate=False)
    request_media: tuple[str, ...] = ()


def declaration(view: Any) -> Declaration | None:
    """The declaration of a view (anywhere in its decorator chain), or None."""
    while view is not None:
        found = getattr(view, "declaration", None)
        if found is not None:
            return found
        view = getattr(view, "__wrapped__", None)
    return None


def invalid(error: ValidationError, codes: dict[str, str] | None = None) -> Response:
    """A pydantic error in the service's shape: 422, `required` for a missing field, else
    `invalid` (or the model's own code for that field), naming the field."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or None
    top = str(first["loc"][0]) if first["loc"] else ""
    code = "required" if first["type"] == "missing" else (codes or {}).get(top, "invalid")
    text = first["msg"] if not where else f"{where}: {first['msg']}"
    return api_error(422, code, text + ".", top or None)


def _codes(model: Any) -> dict[str, str]:
    return dict(getattr(model, "error_codes", None) or {})


def _adapter(kind: Any) -> TypeAdapter:
    return TypeAdapter(kind)


def read_body(declared: Declaration) -> tuple[Any, Response | None]:
    """The request's body validated against the declared model: (value, None), or (None, the
    error answer)."""
    data: Any = None
    if declared.forms and request.mimetype in FORM_TYPES:
        data = {key: request.form.get(key) for key in request.form}
    elif request.data or request.is_json:
        data = request.get_json(silent=True)
        if data is None:
            return None, api_error(400, "bad_request", BAD_BODY)
    if data is None:
        if declared.body_required:
            return None, api_error(400, "bad_request", BAD_BODY)
        data = {}
    kind = declared.body
    if isinstance(kind, tuple):  # one of: an object's model, or a list
        wanted = dict if isinstance(data, dict) else list
        fits = [
            k
            for k in kind
            if (isinstance(k, type) and issubclass(k, BaseModel)) == (wanted is dict)
        ]
        if not fits:
            return None, api_error(400, "bad_request", "The body must be a JSON object or a list.")
        kind = fits[0]
    if isinstance(kind, type) and issubclass(kind, BaseModel) and not isinstance(data, dict):
        return None, api_error(400, "bad_request", BAD_BODY)
    try:
        return _adapter(kind).validate_python(data, strict=not declared.forms), None
    except ValidationError as exc:
        return None, invalid(exc, _codes(kind))


def render(answer: Any) -> Any:
    """A view's answer as Flask takes it: a model is serialised by its own definition."""
    status = None
    rest: tuple[Any, ...] = ()
    if isinstance(answer, tuple) and answer and isinstance(answer[0], BaseModel):
        answer, status, *more = answer
        rest = tuple(more)
    if isinstance(answer, BaseModel):
        response = jsonify(answer.model_dump(mode="json", by_alias=True, exclude_unset=True))
        if status is not None:
            response.status_code = status
        for headers in rest:
            response.headers.update(headers)
        return response
    return answer


def endpoint(scope: str, **declared: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a view's scope (`read`, `write`, `send`, `admin` or `PUBLIC`) and its models;
    the request is checked against them before the view runs (after the key is)."""
    spec = Declaration(scope=scope, **declared)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def checked(**kwargs: Any) -> Any:
            if spec.validate:
                if spec.path is not None:
                    try:
                        spec.path.model_validate(kwargs)
                    except ValidationError as exc:
                        return invalid(exc)
                if spec.query is not None:
                    try:
                        args = {key: request.args.get(key) for key in request.args}
                        kwargs["query"] = spec.query.model_validate(args)
                    except ValidationError as exc:
                        return invalid(exc, _codes(spec.query))
                if spec.body is not None:
                    body, problem = read_body(spec)
                    if problem is not None:
                        return problem
                    kwargs["body"] = body
            return render(view(**kwargs))

        checked.declaration = spec  # type: ignore[attr-defined]
        if scope == PUBLIC:
            return checked
        return require_scope(scope)(checked)

    return decorate


def hosted(media: str = HTML, form: type[BaseModel] | None = None, **more: Any) -> Any:
    """Declare a hosted page (public, answering `media`, its errors as a page too), and the
    plain form it takes, if any; the page reads its form itself."""
    return endpoint(PUBLIC, validate=False, answers={200: media}, media=(media,), body=form,
                    forms=form is not None, json_body=False, body_required=False, **more)  # fmt: skip
