"""Bearer-token checks for the admin API (the keys themselves live in `service.access.keys`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, g, request

from service.access.keys import find_api_key
from service.models import utcnow


def require_api_key(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: 401 unless the request carries `Authorization: Bearer <active key>`."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        api_key = find_api_key(key.strip()) if scheme.lower() == "bearer" and key else None
        if api_key is None:
            abort(401)
        api_key.last_used_at = utcnow()
        g.api_key = api_key
        return view(*args, **kwargs)

    return wrapper
