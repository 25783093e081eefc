"""The floor for bench/signup.py: bare Flask + email-validator + one insert per request.

What a signup cannot be faster than on this machine under the same gunicorn settings:
parse JSON, validate the address (no DNS), insert one row, answer 202. The issue's floor
inserts into SQLite (`FLOOR_DB=/tmp/floor.db`); with `FLOOR_DB=postgresql://...` the same app
inserts into PostgreSQL in autocommit, for a like-for-like figure on that backend.
Run: FLOOR_DB=/tmp/floor.db gunicorn 'bench.floor_app:app'
"""

from __future__ import annotations

import os
import sqlite3
import threading

from email_validator import EmailNotValidError, validate_email
from flask import Flask, jsonify, request

DB = os.environ.get("FLOOR_DB", "/tmp/floor.db")
ON_POSTGRES = DB.startswith("postgresql://")
CREATE = (
    "CREATE TABLE IF NOT EXISTS signups (id {} PRIMARY KEY, email TEXT UNIQUE,"
    " created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"
).format("SERIAL" if ON_POSTGRES else "INTEGER")
INSERT = "INSERT INTO signups (email) VALUES ({}) ON CONFLICT DO NOTHING".format(
    "%s" if ON_POSTGRES else "?"
)
_local = threading.local()

app = Flask(__name__)


def _connection():
    conn = getattr(_local, "conn", None)
    if conn is None:
        if ON_POSTGRES:
            import psycopg

            conn = psycopg.connect(DB, autocommit=True)
            with conn.transaction():  # gunicorn's workers start together: one creates it
                conn.execute("SELECT pg_advisory_xact_lock(20261201)")
                conn.execute(CREATE)
        else:
            conn = sqlite3.connect(DB, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(CREATE)
        _local.conn = conn
    return conn


@app.post("/api/v1/subscriptions")
def signup():
    """Validate the address and store it; 202 like the real endpoint."""
    data = request.get_json(silent=True) or {}
    try:
        email = validate_email(str(data.get("email", "")), check_deliverability=False)
    except EmailNotValidError:
        return jsonify(status="error", code="invalid_email"), 422
    _connection().execute(INSERT, (email.normalized.lower(),))
    return jsonify(status="pending", code="confirmation_sent"), 202


@app.get("/healthz")
def healthz():
    """Up."""
    return "ok"
