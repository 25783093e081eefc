"""Web origins (`scheme://host[:port]`) written as browsers write their `Origin` header.

An allowlist entry is compared with the header as text, so each entry is kept in the
browser's form: lower case, an IPv6 host in brackets, a non-ASCII host name in punycode, no
default port. Anything that is not an origin (a path, a query, user info, `*`) is refused.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

import idna

DEFAULT_PORTS = {"http": 80, "https": 443}
EXAMPLE = "https://news.example.org"


def normalize_origin(value: object) -> str:
    """`value` as a browser's `Origin` header would carry it, or ValueError saying why not."""
    if not isinstance(value, str):
        raise ValueError("an origin must be a string")
    text = value.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an origin") from exc
    if (
        parts.scheme not in DEFAULT_PORTS
        or not parts.hostname
        or any((parts.path, parts.query, parts.fragment, parts.username, parts.password))
    ):
        raise ValueError(f"{value!r} is not an origin like {EXAMPLE}")
    if port == 0:
        raise ValueError(f"{value!r} names port 0, which no site listens on")
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    elif not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"{value!r} has a host name no browser would send") from exc
    if port == DEFAULT_PORTS[parts.scheme]:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def page_origin(url: str) -> tuple[str, SplitResult] | None:
    """The normalised origin of a page's URL and its split parts, or None when the URL is no
    plain absolute link (a backslash, whitespace or an unprintable character, no origin)."""
    if "\\" in url or any(c.isspace() or not c.isprintable() for c in url):
        return None
    try:
        parts = urlsplit(url)
        return normalize_origin(f"{parts.scheme}://{parts.netloc}"), parts
    except ValueError:
        return None
