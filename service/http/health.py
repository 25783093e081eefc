"""Liveness and readiness probes: `/healthz` (the process is up), `/readyz` (what it depends on).

`/readyz` answers 503 when a dependency is down (the database, the broker, the limits' Redis),
and 200 with named warnings when a worker or beat has stopped leaving heartbeats: signups
still work then, but jobs or schedules wait, and whoever is on call must hear of it.
"""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from service import heartbeats
from service.extensions import db
from service.http.contract import PUBLIC, endpoint
from service.http.schemas.public import Alive, Ready

bp = Blueprint("health", __name__)
MISSED_BEATS = 3  # heartbeats a process may miss before it is reported


@bp.get("/healthz")
@endpoint(PUBLIC, answers={200: Alive})
def healthz():
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
@endpoint(PUBLIC, answers={200: Ready, 503: Ready})
def readyz():
    """Each check as `{"status": "ok" | "warning" | "error", ...}`; 503 if any is an error.

    Signups still answer 202 while the broker or Redis is down (the jobs wait in the outbox,
    the rate limits count per process); this probe is how an operator sees it.
    """
    checks: dict[str, dict[str, Any]] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"status": "ok"}
        checks.update(_process_checks())
    except Exception as exc:
        db.session.rollback()
        checks["database"] = _error(exc)
    try:
        celery = current_app.extensions["celery"]
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = {"status": "ok"}
    except Exception as exc:
        checks["broker"] = _error(exc)
    if current_app.config["REDIS_URL"]:
        checks["redis"] = _redis_check(current_app.config["REDIS_URL"])
    states = {check["status"] for check in checks.values()}
    status = "unavailable" if "error" in states else "warning" if "warning" in states else "ok"
    return jsonify(status=status, checks=checks), 503 if status == "unavailable" else 200


def _error(exc: BaseException) -> dict[str, str]:
    return {"status": "error", "error": type(exc).__name__}


def _process_checks() -> dict[str, dict[str, Any]]:
    """`worker:<hostname>` and `beat:<name>` from their heartbeats; `workers` / `beat` warn
    when none was ever seen."""
    period = float(current_app.config["HEARTBEAT_SECONDS"])
    checks: dict[str, dict[str, Any]] = {}
    for seen in heartbeats.seen():
        age = round(seen.age, 1)
        if age <= MISSED_BEATS * period:
            checks[f"{seen.kind}:{seen.name}"] = {"status": "ok", "age_seconds": age}
        else:
            message = f"no heartbeat for {age:.0f} s (expected every {period:g} s): stopped?"
            checks[f"{seen.kind}:{seen.name}"] = {
                "status": "warning",
                "age_seconds": age,
                "message": message,
            }
    kinds = {name.split(":", 1)[0] for name in checks}
    for kind, label in (("worker", "workers"), ("beat", "beat")):
        if kind not in kinds:
            checks[label] = {"status": "warning", "message": f"no {kind} heartbeat recorded"}
    return checks


def _redis_check(url: str) -> dict[str, str]:
    """ok if the Redis of the rate limits and shared counters answers a PING in time."""
    timeout = current_app.config["RATELIMIT_STORAGE_TIMEOUT"] * 4
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
        return {"status": "ok"}
    except redis.RedisError as exc:
        return _error(exc)
    finally:
        client.close()
