"""Keyset paging, the same for every list: a bounded `limit` and an opaque cursor that names
where the previous page ended (the sort key of its last row), so rows inserted or deleted
between pages neither skip nor repeat the others."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_CURSOR_MAX = 512
_INT_MAX = 2**62  # fits every database's integer comparison


class BadPage(ValueError):
    """`limit` or `cursor` cannot be used; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_limit(value: str | None) -> int:
    """`limit` from a query string: absent is 50, else a whole number from 1 to 500."""
    if value is None:
        return DEFAULT_LIMIT
    text = value.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadPage("limit", f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return int(text)


def encode_cursor(*values: int | str) -> str:
    """The cursor after a row whose sort key is `values`."""
    raw = json.dumps(list(values), separators=(",", ":"), ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str | None, *kinds: type) -> tuple[Any, ...] | None:
    """The sort key a cursor names, checked against `kinds` (e.g. `int`, `str`); None for no
    cursor (the first page). Anything else raises BadPage."""
    if value is None or value == "":
        return None
    problem = BadPage("cursor", "cursor is not one this list gave; start again without it.")
    if len(value) > _CURSOR_MAX:
        raise problem
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise problem from None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise problem
    for item, kind in zip(values, kinds, strict=True):
        # bool is an int in Python; a cursor never holds one
        if not isinstance(item, kind) or isinstance(item, bool):
            raise problem
        if isinstance(item, int) and not 0 <= item <= _INT_MAX:
            raise problem
    return tuple(values)


def page_of(rows: list[Any], limit: int, key: Any) -> tuple[list[Any], str | None]:
    """Given up to `limit + 1` rows in order, the page and the cursor of the next one (None
    on the last page); `key(row)` is a row's sort key."""
    if len(rows) <= limit:
        return rows, None
    shown = rows[:limit]
    return shown, encode_cursor(*key(shown[-1]))
