"""Every request body is held to `MAX_CONTENT_LENGTH` as it streams in, whatever its framing.

A body with a `Content-Length` over the limit is refused by werkzeug before anything reads it.
A body without one (`Transfer-Encoding: chunked`, or any framing the server ends for us) used
to be read only up to the limit and the rest dropped: the view saw the first 16 KiB as if it
were the whole body, so fields after the cut (the honeypot among them) were never seen. Here
such a body is read before the app sees it, at most one byte past the limit: within it, the
app gets exactly those bytes with their length; past it, the request goes on as one declaring
a length over the limit, so the app answers 413 in its usual error shape and no view runs.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

# What is still read (and dropped) of a refused body, so the client that is still sending
# gets its 413 instead of a connection reset; a longer body is cut off.
DRAIN_MAX = 1024 * 1024
CHUNK = 64 * 1024

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# The routes that take a bigger body than `MAX_CONTENT_LENGTH`: (method, path) -> the setting
# that holds their limit (a CSV list uploaded for import, by the API or the console).
LARGER_BODIES = {
    ("POST", "/api/v1/imports"): "IMPORT_MAX_BYTES",
    ("POST", "/admin/imports"): "IMPORT_MAX_BYTES",
}


def limit_for(config: Any, method: str, path: str) -> int | None:
    """The most bytes a request's body may hold: `MAX_CONTENT_LENGTH`, or a route's own."""
    key = LARGER_BODIES.get((method.upper(), path))
    return config.get(key) if key else config.get("MAX_CONTENT_LENGTH")


def _unframed(environ: dict[str, Any]) -> bool:
    """True for a body whose end the server marks rather than a `Content-Length`: chunked
    (which wins over any `Content-Length`, as werkzeug and RFC 9112 read it), or none given."""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return True
    no_length = not environ.get("CONTENT_LENGTH", "").strip()
    return no_length and bool(environ.get("wsgi.input_terminated"))


def _read_up_to(stream: Any, size: int) -> bytes:
    """Up to `size` bytes of `stream`, fewer only if it ends first."""
    parts: list[bytes] = []
    left = size
    while left > 0:
        data = stream.read(min(left, CHUNK))
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


class BodyLimit:
    """WSGI middleware: a body without `Content-Length` read here, refused past `limit`."""

    def __init__(self, app: WSGIApp, limit: Callable[[dict[str, Any]], int | None]) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        """Frame the body as one with a `Content-Length` before the app sees it."""
        limit = self.limit(environ)
        if limit and _unframed(environ):
            stream = environ["wsgi.input"]
            body = _read_up_to(stream, limit + 1)
            if len(body) > limit:
                _read_up_to(stream, DRAIN_MAX)
                body = b""  # nobody reads it: werkzeug refuses the length first
                environ["CONTENT_LENGTH"] = str(limit + 1)
            else:
                environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input"] = io.BytesIO(body)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


def register(app: Any) -> None:
    """Wrap `app.wsgi_app` so every body is limited by the app's `MAX_CONTENT_LENGTH` (or its
    route's own limit, `LARGER_BODIES`)."""
    app.wsgi_app = BodyLimit(
        app.wsgi_app,
        lambda environ: limit_for(
            app.config, environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        ),
    )
