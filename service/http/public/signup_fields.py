"""What a signup request carries: its fields read from a JSON or plain form body, and each
one's plain check (newsletters, name, the confirmation flag, the honeypot). The signup view
(`signup.py`) runs its traps and rules on them."""

from __future__ import annotations

from typing import Any

from flask import request

from service.http.schemas import public as public_schema
from service.http.schemas.public import NAME_MAX


class BadRequest(ValueError):
    """The body could not be read as a signup."""


def signup_fields() -> dict[str, Any]:
    """The submitted fields from a JSON or form body, as plain values."""
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BadRequest("body is not a JSON object")
        return data
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise BadRequest(f"unsupported content type {request.mimetype!r}")
    form = request.form
    fields: dict[str, Any] = {key: form.get(key) for key in form}
    fields["newsletters"] = form.getlist("newsletters")
    return fields


def newsletter_slugs(value: Any) -> list[str]:
    """The slugs a signup names: one, a list, or comma-separated; BadRequest for anything else."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise BadRequest("newsletters must be a slug or a list of slugs")
    return [slug.strip() for item in items for slug in item.split(",") if slug.strip()]


def clean_name(value: Any) -> str | None:
    """The reader's name as kept: printable, spaces folded, at most `NAME_MAX` (None if empty)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest("name must be a string")
    return (
        " ".join("".join(c if c.isprintable() else " " for c in value).split())[:NAME_MAX] or None
    )


TRUE_WORDS = frozenset(public_schema.TRUE_WORDS)
FALSE_WORDS = frozenset(public_schema.FALSE_WORDS)


def confirmed_flag(value: Any) -> bool:
    """`confirm_address`: a JSON boolean, or a form's true/1/on (false/0/off, or absent: no)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise BadRequest("confirm_address must be true or false")


def filled(value: Any) -> bool:
    """A honeypot holds anything but nothing: `0`, `false` and a blank count as filled."""
    return not (value is None or (isinstance(value, str | list | dict) and len(value) == 0))
