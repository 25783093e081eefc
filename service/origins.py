"""Which web origins may post the signup form: the global `ALLOWED_ORIGINS` plus each
newsletter's own allowlist.

A signup from an `Origin` is allowed when the origin is the service's own, is in the global
list (or that list is `*`), or is in the allowlist of **every** newsletter it asks for. A CORS
preflight carries no body, so it answers for the union of the global list and all lists.

The newsletters' lists are read once per `LISTS_CACHE_SECONDS` per process (two queries per
signup cost more than the rest of it): a change made through this process applies at once,
elsewhere within that time; a slug missing from the copy is always looked up.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request
from sqlalchemy import select

from service.extensions import db
from service.models import Newsletter

LISTS_CACHE_SECONDS = 10.0
_ALL_LISTS = select(Newsletter.slug, Newsletter.allowed_origins)
_cached_lists: dict[Any, tuple[float, dict[str, frozenset[str]]]] = {}


def normalize_origin(value: object) -> str:
    """`scheme://host[:port]` in lower case, or ValueError for anything else (paths, `*`)."""
    if not isinstance(value, str):
        raise ValueError("an origin must be a string")
    text = value.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an origin") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise ValueError(f"{value!r} is not an origin like https://news.example.org")
    if parts.username or parts.password or parts.fragment:
        raise ValueError(f"{value!r} is not an origin like https://news.example.org")
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")


def _global() -> list[str]:
    return current_app.config["ALLOWED_ORIGINS"]


def _own_origins() -> set[str]:
    """The service's own origins: pages it serves (iframe form, /subscribe) post same-origin."""
    public = urlsplit(current_app.config["PUBLIC_URL"])
    return {request.host_url.rstrip("/"), f"{public.scheme}://{public.netloc}"}


def _globally_allowed(origin: str) -> bool:
    allowed = _global()
    return "*" in allowed or origin.rstrip("/") in allowed or origin in _own_origins()


def _newsletter_lists(slugs: Sequence[str] = ()) -> dict[str, frozenset[str]]:
    """Every newsletter's allowlist by slug: this process's copy, unless stale or missing a slug."""
    database, now = db.engine.url, time.monotonic()
    cached = _cached_lists.get(database)
    if cached and now - cached[0] < LISTS_CACHE_SECONDS and all(s in cached[1] for s in slugs):
        return cached[1]
    with db.engine.connect() as conn:
        lists = {slug: frozenset(origins or ()) for slug, origins in conn.execute(_ALL_LISTS)}
    _cached_lists[database] = (now, lists)
    return lists


def forget_lists() -> None:
    """Drop this process's copy of the allowlists (after a newsletter was created or changed)."""
    _cached_lists.clear()


def cors_allowed(origin: str) -> bool:
    """May `origin` talk to the signup API at all (global list or any newsletter's list)?"""
    if _globally_allowed(origin):
        return True
    return any(origin in origins for origins in _newsletter_lists().values())


def signup_allowed(origin: str | None, slugs: Sequence[str]) -> bool:
    """May `origin` sign readers up to every newsletter in `slugs`? No Origin: not a browser."""
    if origin is None or not slugs or _globally_allowed(origin):
        return True
    lists = _newsletter_lists(slugs)
    # An unknown slug is not this check's business: the signup answers unknown_newsletter.
    return all(origin in lists[slug] for slug in slugs if slug in lists)


def frame_ancestors(extra: Iterable[str] = ()) -> str:
    """The CSP `frame-ancestors` source list for a hosted form: global list plus `extra`."""
    allowed = _global()
    if "*" in allowed:
        return "*"
    return " ".join(dict.fromkeys(["'self'", *allowed, *extra]))
