"""HTTP: the blueprints, registered in one place."""

from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

CONSOLE_PREFIX = "/admin"


class NoCookieSessions(SecureCookieSessionInterface):
    """Cookie sessions only for the staff console (`/admin`); none anywhere else.

    Flask's default opens a signed-cookie session for every request (a key derivation each
    time); the reader pages and the API use no `flask.session` and must never set cookies.
    """

    def open_session(self, app: Flask, request: Any):
        """The console's signed session under `/admin`; elsewhere none (a null session)."""
        path = request.path
        if path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
            return super().open_session(app, request)
        return None


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint and the shared error handlers to `app`."""
    from service.http import (
        admin,
        api_docs,
        api_keys,
        archive,
        articles,
        audit_log,
        body_limit,
        demo,
        embed,
        errors,
        health,
        imports,
        input_guard,
        locale_guard,
        metrics,
        newsletter_report,
        newsletters,
        openapi,
        page_policy,
        provider_hooks,
        public,
        request_ids,
        sends,
        sources,
        stats,
        subscribers,
        suppressions,
        unsubscribe,
        webhooks,
    )

    app.session_interface = NoCookieSessions()
    errors.register(app)
    body_limit.register(app)
    request_ids.register(app)  # outside the body limit: its 413 carries the id too
    input_guard.register(app)  # before the blueprints: their rules pick the bounded `int`
    locale_guard.register(app)
    page_policy.register(app)
    for module in (
        health,
        metrics,
        public,
        unsubscribe,
        embed,
        archive,
        admin,
        newsletters,
        newsletter_report,
        articles,
        sends,
        api_keys,
        audit_log,
        subscribers,
        suppressions,
        sources,
        stats,
        imports,
        webhooks,
        provider_hooks,
        openapi,
        api_docs,
    ):
        app.register_blueprint(module.bp)
    if app.config["ENV"] in {"development", "test"}:
        app.register_blueprint(demo.bp)
