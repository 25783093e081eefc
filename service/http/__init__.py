"""HTTP: the blueprints, registered in one place."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint and the shared error handlers to `app`."""
    from service.http import (
        admin,
        archive,
        articles,
        demo,
        embed,
        errors,
        health,
        newsletters,
        openapi,
        public,
        sends,
        subscribers,
        unsubscribe,
    )

    errors.register(app)
    for module in (
        health,
        public,
        unsubscribe,
        embed,
        archive,
        admin,
        newsletters,
        subscribers,
        articles,
        sends,
        openapi,
    ):
        app.register_blueprint(module.bp)
    if app.config["ENV"] in {"development", "test"}:
        app.register_blueprint(demo.bp)
