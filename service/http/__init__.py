"""HTTP: the blueprints, registered in one place."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint and the shared error handlers to `app`."""
    from service.http import admin, demo, errors, health, public

    errors.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(admin.bp)
    if app.config["ENV"] in {"development", "test"}:
        app.register_blueprint(demo.bp)
