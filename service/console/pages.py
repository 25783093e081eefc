"""Rendering a console page: the member's language, the token for its forms, its status."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_babel import force_locale

from service.i18n import pick_locale


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """`template` in the language the browser asks for (English or Ukrainian)."""
    locale = pick_locale(request.args.get("locale"), [lang for lang, _ in request.accept_languages])
    with force_locale(locale):
        return render_template(template, locale=locale, **context), status
