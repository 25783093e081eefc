"""Liveness and readiness probes."""

from __future__ import annotations

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from service.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database, the broker and Redis (when `REDIS_URL` is set) answer; 503 names what does not.

    Signups still answer 202 while the broker or Redis is down (the jobs wait in the outbox,
    the rate limits count per process); this probe is how an operator sees it.
    """
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        celery = current_app.extensions["celery"]
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {type(exc).__name__}"
    if current_app.config["REDIS_URL"]:
        checks["redis"] = _redis_check(current_app.config["REDIS_URL"])
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503


def _redis_check(url: str) -> str:
    """ "ok" if the Redis of the rate limits and shared counters answers a PING in time."""
    timeout = current_app.config["RATELIMIT_STORAGE_TIMEOUT"] * 4
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
        return "ok"
    except redis.RedisError as exc:
        return f"error: {type(exc).__name__}"
    finally:
        client.close()
