"""HTTP: the blueprints, registered in one place."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint and the shared error handlers to `app`."""
    from service.http import admin, demo, errors, health, public

    errors.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(public.bp)
    from service.http import unsubscribe

    app.register_blueprint(unsubscribe.bp)
    app.register_blueprint(admin.bp)
    from service.http import embed

    app.register_blueprint(embed.bp)
    from service.http import newsletters, openapi, subscribers

    app.register_blueprint(newsletters.bp)
    app.register_blueprint(subscribers.bp)
    app.register_blueprint(openapi.bp)
    from service.http import archive, articles

    app.register_blueprint(articles.bp)
    app.register_blueprint(archive.bp)
    from service.http import sends

    app.register_blueprint(sends.bp)
    if app.config["ENV"] in {"development", "test"}:
        app.register_blueprint(demo.bp)
