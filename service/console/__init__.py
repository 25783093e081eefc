"""The staff console at `/admin`: server-rendered pages over the same service functions as the
admin API, for owners, editors and viewers.

Sessions (Flask-Login, a signed cookie scoped to `/admin`) exist only here: the reader pages
and the API stay cookie-free. Every POST carries the form's CSRF token (Flask-WTF) and is
refused without it; every page answers only to a signed-in member whose role allows it.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask

bp = Blueprint("console", __name__, url_prefix="/admin")
PREFIX = "/admin"
SESSION_HOURS = 12


def init_app(app: Flask) -> None:
    """Attach the console: its blueprint, sign-in manager and cookie settings."""
    from service.console import (  # noqa: F401 (their views register on import)
        account,
        articles,
        auth,
        dashboard,
        guard,
        imports,
        newsletters,
        owners,
        previews,
        readers,
        schedule,
        sends,
        staff,
        suppressions,
    )

    app.config.update(
        SESSION_COOKIE_PATH=PREFIX,
        SESSION_COOKIE_NAME="console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["ENV"] == "production",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
        SECRET_KEY_FALLBACKS=app.config.get("SECRET_KEYS", [])[1:],
    )
    auth.login_manager.init_app(app, add_context_processor=False)
    app.register_blueprint(bp)


@bp.app_template_filter("console_time")
def console_time(value: str | None) -> str:
    """A stored time as the console shows it."""
    from service.console.figures import short_time

    return short_time(value)


@bp.context_processor
def console_globals() -> dict:
    """What every console template may use: the member and the forms' CSRF token."""
    from flask_login import current_user
    from flask_wtf.csrf import generate_csrf

    from service.console.figures import pace

    return {"current_user": current_user, "csrf_token": generate_csrf, "pace_of": pace}
