"""Flask extensions, created unbound here and bound to the app in `create_app` with `init_app`."""

from collections.abc import Callable, MutableMapping
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


def configure_limits(config: MutableMapping[str, Any]) -> None:
    """Where the rate limits count: Redis when `REDIS_URL` is set, else this process's memory.

    A Redis that is down or slow must not fail a signup: its client gives up after
    `RATELIMIT_STORAGE_TIMEOUT` seconds, and Flask-Limiter then counts in this process's
    memory (logging a warning) until Redis answers again. Settings given explicitly win.
    """
    storage = config.setdefault("RATELIMIT_STORAGE_URI", config["REDIS_URL"] or "memory://")
    config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    if storage.startswith(("redis://", "rediss://")):
        timeout = config["RATELIMIT_STORAGE_TIMEOUT"]
        config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS",
            {"socket_connect_timeout": timeout, "socket_timeout": timeout},
        )


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
