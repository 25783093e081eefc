"""Request ids: every request has one, on each log line written for it and in its answer.

A request id sent by the client or a proxy in front (`X-Request-ID`) is kept if it is sane
(at most 128 characters of letters, digits and `._:=+/-`); otherwise, or without one, a new
one is made. It is bound for the whole request (`service.logs.bound`), so the app's lines
carry it, the outbox stores it with the jobs the request causes, and the answer echoes it in
`X-Request-ID`, which gunicorn's access line reads. A WSGI wrapper, outside everything else,
so an answer made before Flask sees the request (a body over the limit) carries it too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from service import logs

ENVIRON_KEY = "newsletter.request_id"


def request_id_for(environ: dict[str, Any]) -> str:
    """The request's id: the sane one it came with, else a new one (128 random bits, hex)."""
    return logs.sane_request_id(environ.get("HTTP_X_REQUEST_ID")) or os.urandom(16).hex()


class RequestIds:
    """WSGI middleware binding a request id to the request and echoing it in the answer."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request_id = environ[ENVIRON_KEY] = request_id_for(environ)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append((logs.REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        token = logs.request_id.set(request_id)  # as `logs.bound`, without its generator
        try:
            return self.app(environ, start)
        finally:
            logs.request_id.reset(token)


def register(app: Any) -> None:
    """Wrap `app.wsgi_app` (register it after the other WSGI wrappers: it goes outside)."""
    app.wsgi_app = RequestIds(app.wsgi_app)
