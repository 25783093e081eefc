"""Bearer-key checks for the admin API: each admin view declares the one scope it needs.

A missing or wrong key answers 401 with `WWW-Authenticate: Bearer`; a key without the scope
answers 403 `insufficient_scope` naming it (as RFC 6750 has it, also in the header). The keys
themselves live in `service.access.keys`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, g, request

from service import audit
from service.access import keys
from service.http.errors import api_error

REALM = 'Bearer realm="newsletter-service"'


def unauthorized() -> Response:
    """401: no key, or not an active one."""
    response = api_error(
        401, "unauthorized", "Missing or wrong API key: send 'Authorization: Bearer <key>'."
    )
    response.headers["WWW-Authenticate"] = REALM
    return response


def insufficient_scope(needed: str) -> Response:
    """403: the key is good but lacks the scope `needed`."""
    response = api_error(
        403,
        "insufficient_scope",
        f"This needs a key with the {needed!r} scope (or 'admin'); "
        f"create one with: newsletter api-keys create NAME --scope {needed}",
        scope=needed,
    )
    response.headers["WWW-Authenticate"] = f'{REALM}, error="insufficient_scope", scope="{needed}"'
    return response


def operator() -> audit.Actor:
    """Who is acting in this admin request: the name of the key it carries."""
    return g.actor


def required_scope(view: Any) -> str | None:
    """The scope a view declared with `require_scope` (anywhere in its decorator chain)."""
    while view is not None:
        scope = getattr(view, "required_scope", None)
        if scope:
            return scope
        view = getattr(view, "__wrapped__", None)
    return None


def require_scope(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the view runs only for `Authorization: Bearer <active key>` whose scopes
    grant `scope`; the key is in `g.api_key`."""
    if scope not in keys.SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
            presented = presented.strip()
            found = None
            if scheme.lower() == "bearer" and presented:
                found = keys.find_api_key(presented)
            if found is None:
                return unauthorized()
            if not keys.grants(found, scope):
                return insufficient_scope(scope)
            g.actor = audit.Actor("api", found.name)
            keys.note_use(found)
            g.api_key = found
            return view(*args, **kwargs)

        wrapper.required_scope = scope  # type: ignore[attr-defined]
        return wrapper

    return decorate
