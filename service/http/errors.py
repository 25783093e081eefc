"""One error shape for every API answer, and hosted error pages for browsers.

The database being away is an error of its own kind (`service.database_away`): every route
answers it 503 with `Retry-After`, `database_unavailable` in the API's shape or a page
asking the reader to try again in a minute, never a 500 and never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import force_locale, lazy_gettext
from werkzeug.exceptions import HTTPException

from service.database_away import AWAY_ERRORS, is_away, reason
from service.i18n import pick_locale

log = logging.getLogger(__name__)
DATABASE_RETRY_AFTER = 10  # seconds; the signup spool keeps readers' signups meanwhile

CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
    500: "server_error",
}
# What a reader is told for each error code (in English here, translated in translations/).
MESSAGES = {
    "bad_request": lazy_gettext(
        "We could not read this request. Please reload the page and try again."
    ),
    "too_large": lazy_gettext("This request is too large. Please shorten it and try again."),
    "not_found": lazy_gettext("This page does not exist."),
    "rate_limited": lazy_gettext("Too many attempts. Please wait a few minutes and try again."),
    "server_error": lazy_gettext("Something went wrong on our side. Please try again in a minute."),
    "invalid_email": lazy_gettext("Please, enter correct email address"),
    "required": lazy_gettext("Please enter your email address"),
    "newsletters_required": lazy_gettext("Please choose at least one newsletter"),
    "unknown_newsletter": lazy_gettext(
        "This newsletter does not exist (any more). Please reload the page."
    ),
    "captcha_failed": lazy_gettext(
        "We could not confirm that you are a person. Please complete the check and try again."
    ),
    "captcha_unavailable": lazy_gettext(
        "We cannot check that you are a person right now. Please try again in a minute."
    ),
    "signup_unavailable": lazy_gettext(
        "We cannot take signups right now. Please try again in a minute."
    ),
    "database_unavailable": lazy_gettext(
        "This page is not available right now. Please try again in a minute."
    ),
    "origin_not_allowed": lazy_gettext(
        "This site may not sign readers up to this newsletter. Please subscribe on our own website."
    ),
}


def message(code: str, locale: str) -> str:
    """What the reader is told for the error `code`, in `locale`."""
    with force_locale(locale):
        return str(MESSAGES[code])


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
    with force_locale(locale):
        return render_template(template, locale=locale, **context), status


def register(app: Flask) -> None:
    """Answer every HTTP error in the public shape (JSON) or as a page (browsers)."""

    def handle_database_away(error: Exception):
        if not is_away(error):
            raise error  # not an outage (a missing table, a bad statement): a 500 as before
        log.warning("database away (%s): %s %s answered 503", reason(error), request.method,
                    request.path, extra={"event": "database_away"})  # fmt: skip
        locale = request_locale()
        text = message("database_unavailable", locale)
        if wants_html() and not request.path.startswith("/api/"):
            answer = page("pages/message.html", 503, title=text, message="", locale=locale)
            response = Response(answer[0], 503, mimetype="text/html")
        else:
            response = api_error(503, "database_unavailable", text)
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    for away in AWAY_ERRORS:
        app.register_error_handler(away, handle_database_away)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        status = error.code or 500
        locale = request_locale()
        code = CODES.get(status, "error")
        text = message(code if code in MESSAGES else "bad_request", locale)
        if status == 401:
            text = "Missing or wrong API key: send 'Authorization: Bearer <key>'."
        elif status == 405:
            text = f"Method {request.method} is not allowed here."
        if wants_html() and not request.path.startswith("/api/"):
            return page("pages/message.html", status, title=text, message="", locale=locale)
        response = api_error(status, code, text)
        response.status_code = status
        for header in ("Retry-After", "WWW-Authenticate", "Allow"):
            if error.get_response().headers.get(header):
                response.headers[header] = error.get_response().headers[header]
        return response
