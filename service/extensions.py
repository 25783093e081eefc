"""Flask extensions, created unbound here and bound to the app in `create_app` with `init_app`."""

from typing import Any

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import postgresql, sqlite

from service.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def insert_ignoring_conflicts(model: Any) -> Any:
    """An INSERT into a model or table that skips rows violating a unique key (PostgreSQL, SQLite)."""
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model).on_conflict_do_nothing()
