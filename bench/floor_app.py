"""The floor for bench/signup.py: bare Flask + email-validator + one SQLite insert per request.

What a signup cannot be faster than on this machine under the same gunicorn settings:
parse JSON, validate the address (no DNS), insert one row, answer 202.
Run: FLOOR_DB=/tmp/floor.db gunicorn 'bench.floor_app:app'
"""

from __future__ import annotations

import os
import sqlite3
import threading

from email_validator import EmailNotValidError, validate_email
from flask import Flask, jsonify, request

DB_PATH = os.environ.get("FLOOR_DB", "/tmp/floor.db")
_local = threading.local()

app = Flask(__name__)


def _connection() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(DB_PATH, timeout=10, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS signups (id INTEGER PRIMARY KEY, email TEXT UNIQUE,"
            " created_at TEXT DEFAULT CURRENT_TIMESTAMP)"
        )
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
    _connection().execute(
        "INSERT OR IGNORE INTO signups (email) VALUES (?)", (email.normalized.lower(),)
    )
    return jsonify(status="pending", code="confirmation_sent"), 202


@app.get("/healthz")
def healthz():
    """Up."""
    return "ok"
