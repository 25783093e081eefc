"""Flask extensions, created unbound here and bound to the app in `create_app` with `init_app`."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import postgresql, sqlite

from service.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def rate_limited(*limits: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Apply `limiter.limit(...)` decorators to a view, and skip them when limits are off.

    Flask-Limiter's decorator evaluates its limits on every call even with
    `RATELIMIT_ENABLED=false` (about a sixth of a signup's CPU); the view runs bare then.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        limited = view
        for limit in reversed(limits):  # in the order they would be stacked as decorators
            limited = limit(limited)

        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            run = limited if current_app.config.get("RATELIMIT_ENABLED", True) else view
            return run(*args, **kwargs)

        return checked

    return decorate


def insert_ignoring_conflicts(model: Any) -> Any:
    """An INSERT into a model or table that skips rows violating a unique key (PostgreSQL, SQLite)."""
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model).on_conflict_do_nothing()
