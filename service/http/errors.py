"""One error shape for every API answer, and hosted error pages for browsers."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from service.i18n import pick_locale, t

CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
    500: "server_error",
}
MESSAGE_KEYS = {
    400: "bad_request",
    413: "too_large",
    404: "not_found",
    429: "rate_limited",
    500: "server_error",
}


def request_locale(requested: object = None) -> str:
    """The reader's locale: `requested` if supported, else from `Accept-Language`."""
    return pick_locale(requested, [lang for lang, _ in request.accept_languages])


def wants_html() -> bool:
    """True for a browser's plain form post or page view, False for API clients."""
    if request.is_json:
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def api_error(
    status: int, code: str, message: str, field: str | None = None, **extra: Any
) -> Response:
    """A JSON error in the public shape: status, code, field, message."""
    body: dict[str, Any] = {"status": "error", "code": code, "message": message}
    if field:
        body["field"] = field
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    return response


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """Render a hosted page in the reader's language."""
    locale = context.pop("locale", None) or request_locale(request.values.get("locale"))
    return render_template(template, locale=locale, t=t, **context), status


def register(app: Flask) -> None:
    """Answer every HTTP error in the public shape (JSON) or as a page (browsers)."""

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        status = error.code or 500
        locale = request_locale()
        message = t(MESSAGE_KEYS.get(status, "bad_request"), locale)
        if status == 401:
            message = "Missing or wrong API key: send 'Authorization: Bearer <key>'."
        elif status == 405:
            message = f"Method {request.method} is not allowed here."
        code = CODES.get(status, "error")
        if wants_html() and not request.path.startswith("/api/"):
            return page("pages/message.html", status, title=message, message="", locale=locale)
        response = api_error(status, code, message)
        response.status_code = status
        for header in ("Retry-After", "WWW-Authenticate", "Allow"):
            if error.get_response().headers.get(header):
                response.headers[header] = error.get_response().headers[header]
        return response
