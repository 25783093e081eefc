"""Which web origins may post the signup form: the global `ALLOWED_ORIGINS` plus each
newsletter's own allowlist.

A signup from an `Origin` is allowed when the origin is the service's own, is in the global
list (or that list is `*`), or is in the allowlist of **every** newsletter it asks for. A CORS
preflight carries no body, so it answers for the union of the global list and all lists.

The newsletters' lists come from this process's copy (`service.lists.newsletter_index`).

The same lists decide where a hosted page may link "back to the site" (`link_back`): only to an
http(s) page on an origin that may post the form, never to what a Referer or a form field says
otherwise (`javascript:`, `data:`, a look-alike host); else to `site_home`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

from flask import current_app

from service.lists.newsletter_index import newsletters
from service.web_origins import normalize_origin, page_origin


def _global() -> list[str]:
    return current_app.config["ALLOWED_ORIGINS"]


def own_origin() -> str:
    """The service's own origin, from `PUBLIC_URL` alone: pages it serves (iframe form,
    /subscribe) post same-origin. Never from the request's `Host`, which the client writes."""
    public = urlsplit(current_app.config["PUBLIC_URL"])
    return normalize_origin(f"{public.scheme}://{public.netloc}")


def own_page(url: str, path: str) -> bool:
    """True if `url` is the service's own page at `path` (under `PUBLIC_URL`), any query."""
    try:
        parts = urlsplit(url)
        origin = normalize_origin(f"{parts.scheme}://{parts.netloc}")
    except ValueError:
        return False
    base = urlsplit(current_app.config["PUBLIC_URL"]).path.rstrip("/")
    return origin == own_origin() and parts.path == base + path


def _globally_allowed(origin: str) -> bool:
    allowed = _global()
    return "*" in allowed or origin.rstrip("/") in allowed or origin == own_origin()


def cors_allowed(origin: str) -> bool:
    """May `origin` talk to the signup API at all (global list or any newsletter's list)?"""
    if _globally_allowed(origin):
        return True
    return any(origin in entry.allowed_origins for entry in newsletters().values())


def signup_allowed(origin: str | None, slugs: Sequence[str]) -> bool:
    """May `origin` sign readers up to every newsletter in `slugs`? No Origin: not a browser."""
    if origin is None or not slugs or _globally_allowed(origin):
        return True
    known = newsletters(slugs)
    # An unknown slug is not this check's business: the signup answers unknown_newsletter.
    return all(origin in known[slug].allowed_origins for slug in slugs if slug in known)


def frame_ancestors(extra: Iterable[str] = ()) -> str:
    """The CSP `frame-ancestors` source list for a hosted form: global list plus `extra`."""
    allowed = _global()
    if "*" in allowed:
        return "*"
    return " ".join(dict.fromkeys(["'self'", *allowed, *extra]))


LINK_MAX = 2000


def link_back(url: object) -> str | None:
    """`url` if it is an http(s) page on an allowed origin (see `cors_allowed`), else None.

    Refused outright: anything but http(s), user info, whitespace, control characters and
    backslashes (which browsers read as "/" and Python does not, so the host would differ).
    """
    if not isinstance(url, str) or not url or len(url) > LINK_MAX:
        return None
    found = page_origin(url)
    if found is None:
        return None
    origin, parts = found
    if not cors_allowed(origin):
        return None
    return urlunsplit(parts)


def site_home() -> str:
    """Where "back to the site" leads when no page is known: the first allowed origin, or
    the service's own `PUBLIC_URL`."""
    named = [origin for origin in _global() if origin != "*"]
    return (named[0] if named else current_app.config["PUBLIC_URL"]) + "/"
