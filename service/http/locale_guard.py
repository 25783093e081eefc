"""A `locale` asked for by name must have a catalogue, on every route, before any view runs.

A locale enters a request as a query parameter (`?locale=uk`), a form field or a top-level
JSON field. One with no catalogue (`xx`, a path, a number) used to be either dropped in
silence (pages fell back to English) or carried into rendering, where the digest preview
answered 500 and a queued test send failed in the worker. Now it is a 422 `unknown_locale`
in the public error shape, naming the locales there are. `Accept-Language` is a preference
list, not a request by name: it still falls back to English.
"""

from __future__ import annotations

from flask import Flask, Response, request

from service.http.errors import api_error
from service.http.input_guard import raw_body_view
from service.i18n import LOCALES, UnknownLocale, checked_locale

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def unknown_locale(exc: UnknownLocale) -> Response:
    """The answer to a locale with no catalogue: 422 naming the ones available."""
    return api_error(422, "unknown_locale", f"{exc}.", field="locale", available=list(LOCALES))


def _asked() -> list[object]:
    """Every `locale` value the request names: query string, form fields, top-level JSON."""
    values: list[object] = list(request.args.getlist("locale"))
    if request.mimetype in FORM_TYPES:
        values += request.form.getlist("locale")
    elif request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict) and "locale" in body:
            values.append(body["locale"])
    return values


def check_locales() -> Response | None:
    """Refuse a request naming a locale with no catalogue; an empty value means none asked.
    A `raw_body` view's body is not looked at (it is verified before anything reads it)."""
    if raw_body_view():
        return None
    for value in _asked():
        if value is None or value == "":
            continue
        try:
            checked_locale(value)
        except UnknownLocale as exc:
            return unknown_locale(exc)
    return None


def register(app: Flask) -> None:
    """Check the named locales of every request (after `input_guard`'s size and NUL checks)."""
    app.before_request(check_locales)
