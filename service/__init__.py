"""newsletter-service: the Flask application factory; all wiring happens here."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from service import daily as daily  # the daily figures' session hooks
from service import database, i18n  # database registers the connection events
from service.config import ROOT, load_settings
from service.sources import tally as tally  # the page figures' hooks, after the daily ones


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings (defaults, env, `test_config`), extensions, blueprints, Celery."""
    from service import console
    from service.celery_app import celery_init_app
    from service.extensions import configure_limits, db, limiter, migrate
    from service.http import register_blueprints
    from service.logs import configure_logging

    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "service" / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(load_settings(test_config))
    configure_limits(app.config)
    configure_logging(app.config["LOG_LEVEL"])

    i18n.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    limiter.init_app(app)
    celery_init_app(app)
    register_blueprints(app)
    console.init_app(app)
    database.retry_dropped_requests(app)

    from service.cli import register_commands

    register_commands(app)
    return app


logging.getLogger(__name__).addHandler(logging.NullHandler())
