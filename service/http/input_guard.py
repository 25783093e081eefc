"""What every request may carry before any view reads it: ids that fit a column, JSON of sane
depth, text without NUL.

One place for the classes of hostile input that used to reach a view or the database and come
back as a 500: an id past the `integer` column's range (an `OverflowError` in the driver),
JSON nested a thousand deep (a `RecursionError` in the parser, first seen in the rate
limiter's key function), and a NUL character (PostgreSQL refuses it in any text). Each answer
is a 404 or a 400 in the public error shape, saying what to change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter, Map

from service.http.body_limit import limit_for
from service.http.errors import api_error

# Every id column is SQLAlchemy's `Integer`: PostgreSQL's 4-byte integer is the narrowest.
MAX_ID = 2**31 - 1
# The deepest document any endpoint expects is an article list (2 levels); 32 leaves room.
MAX_JSON_DEPTH = 32
NUL = "\x00"


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` up to `MAX_ID`: a larger id matches no route (404), never an overflow."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)


class JSONUnreadable(ValueError):
    """A JSON body that parses to something no endpoint should be handed."""


def _reject_constant(name: str) -> None:
    raise JSONUnreadable(f"{name} is not JSON: send numbers as plain decimals")


def _depth_exceeds(value: Any, limit: int) -> bool:
    """True if `value` nests arrays/objects deeper than `limit` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in children)
    return False


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing NaN/Infinity and documents deeper than `MAX_JSON_DEPTH`.

    Every `request.get_json()` goes through `loads`, so a view (or a limiter key function)
    with `silent=True` sees None for such a body instead of a `RecursionError`.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse `s`; `JSONUnreadable` (a ValueError) for what no endpoint accepts."""
        kwargs.setdefault("parse_constant", _reject_constant)
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise JSONUnreadable(too_deep_message()) from None
        if _depth_exceeds(value, MAX_JSON_DEPTH):
            raise JSONUnreadable(too_deep_message())
        return value


def too_deep_message() -> str:
    """What a client with an over-nested body is told."""
    return (
        f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep: send a flatter document."
    )


def _texts(value: Any, name: str | None = None) -> Iterator[tuple[str | None, str]]:
    """Every string in a parsed JSON value, keys included, with the top-level field it is in."""
    stack = [(value, name)]
    while stack:
        item, field = stack.pop()
        if isinstance(item, str):
            yield field, item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield field or key, key
                stack.append((child, field or key))
        elif isinstance(item, list):
            stack.extend((child, field) for child in item)


def _nul_field() -> tuple[bool, str | None]:
    """(found, field): whether a NUL is anywhere in the path, query, form or JSON body."""
    if NUL in request.path:
        return True, None
    for key, value in request.args.items(multi=True):
        if NUL in key or NUL in value:
            return True, key
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in request.form.items(multi=True):
            if NUL in (key or "") or NUL in (value or ""):
                return True, key
    elif request.is_json:
        data = request.get_data(cache=True)
        if b"\\u0000" in data.lower() or b"\x00" in data:
            try:
                parsed = request.get_json(silent=True)
            except ValueError:
                return False, None
            for field, text in _texts(parsed):
                if NUL in text:
                    return True, field
    return False, None


def _json_syntax_error() -> str | None:
    """What is wrong with the JSON body of an admin API request (it carries a key), or None.

    A person typing JSON into curl learns the parser's words and the place ("Expecting
    property name ... at line 1, column 15 (a comma before a closing bracket?)"), not that
    the body "must be a JSON object". The public endpoints keep their readers' messages.
    """
    if not request.is_json or "Authorization" not in request.headers:
        return None
    data = request.get_data(cache=True)
    if not data.strip():
        return None
    try:
        json.loads(data)
    except json.JSONDecodeError as exc:
        before = exc.doc[: exc.pos].rstrip()
        hint = ""
        if before.endswith(",") and exc.doc[exc.pos : exc.pos + 1] in "]}":
            hint = " (a comma before a closing bracket?)"
        elif exc.doc[exc.pos : exc.pos + 1] == "'":
            hint = " (JSON strings take double quotes)"
        return (
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}{hint}."
        )
    except UnicodeDecodeError:
        return "The body is not valid JSON: it is not UTF-8 text."
    except (RecursionError, ValueError):
        return None  # too deep, NaN: answered in their own words
    return None


def raw_body(limit_setting: str) -> Any:
    """Mark a view that reads its body itself and verifies it before it parses anything (a
    provider's signed hook): nothing here or in `locale_guard` looks at its body, and its
    size limit is the setting `limit_setting` instead of `MAX_CONTENT_LENGTH`."""

    def mark(view: Any) -> Any:
        view.raw_body_limit = limit_setting
        return view

    return mark


def raw_body_view() -> bool:
    """True while the request goes to a `raw_body` view (its size limit is then set)."""
    view = current_app.view_functions.get(request.endpoint or "")
    setting = getattr(view, "raw_body_limit", None)
    if setting is None:
        return False
    request.max_content_length = int(current_app.config[setting])
    return True


def check_request() -> Response | None:
    """Refuse a body over `MAX_CONTENT_LENGTH` (413, whatever its type and whether or not the
    view reads it), JSON too deep to read or a NUL anywhere in the text (400)."""
    if raw_body_view():
        return None
    limit = limit_for(current_app.config, request.method, request.path)
    if limit and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    if limit != current_app.config.get("MAX_CONTENT_LENGTH"):
        request.max_content_length = limit  # a route with a limit of its own (an upload)
    if request.is_json:
        data = request.get_data(cache=True)
        if data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH:
            try:
                request.json_module.loads(data)
            except JSONUnreadable as exc:
                if str(exc) == too_deep_message():
                    return api_error(400, "bad_request", str(exc))
            except ValueError:
                pass  # malformed JSON: each view answers it in its own words
    syntax = _json_syntax_error()
    if syntax is not None:
        return api_error(400, "bad_request", syntax)
    found, field = _nul_field()
    if found:
        where = f" (in {field!r})" if field else ""
        return api_error(
            400,
            "bad_request",
            f"The request contains a NUL character{where}: remove it and send the text again.",
            field=field,
        )
    return None


def register(app: Flask) -> None:
    """Install the bounded `int` converter, the guarded JSON parser and the request check.

    Call before any blueprint is registered: a rule picks its converter when it is added.
    """
    app.url_map.converters["int"] = BoundedIntConverter
    app.json = GuardedJSONProvider(app)
    app.before_request(check_request)
