"""How the console writes times and a running send's pace, for people rather than parsers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from service.models import Send
from service.sending import summary


def short_time(value: str | None) -> str:
    """An ISO 8601 time as `2026-12-07 07:40 UTC` (a dash when there is none)."""
    if not value:
        return "—"
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def pace(send: dict[str, Any], now: datetime | None = None) -> dict[str, float] | None:
    """A running send's rate (messages a second since it started) and the seconds it still
    needs at that rate; None before it starts, after it ends, or before its first message."""
    if send["status"] != "sending" or not send["started_at"] or not send["sent"]:
        return None
    elapsed = (
        (now or datetime.now(UTC)) - datetime.fromisoformat(send["started_at"])
    ).total_seconds()
    if elapsed <= 0:
        return None
    rate = send["sent"] / elapsed
    return {"rate": rate, "eta_seconds": send["waiting"] / rate}


def send_view(send: Send) -> dict[str, Any]:
    """A send as the console shows it: the figures of `GET /api/v1/sends/<id>`, times as
    ISO 8601 text."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in summary.figures(send).items()
    }
