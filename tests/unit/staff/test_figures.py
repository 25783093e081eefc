"""A running send's pace and the console's times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.console.figures import pace, short_time

START = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


def send(**fields):
    return {"status": "sending", "started_at": START.isoformat(), "sent": 100, "waiting": 300,
            **fields}  # fmt: skip


def test_the_pace_is_the_rate_so_far_and_the_time_the_rest_needs_at_it():
    found = pace(send(), now=START + timedelta(seconds=50))
    assert found == {"rate": 2.0, "eta_seconds": 150.0}


def test_no_pace_before_the_first_message_or_once_the_send_stopped():
    assert pace(send(sent=0), now=START + timedelta(seconds=5)) is None
    assert pace(send(status="paused"), now=START + timedelta(seconds=5)) is None
    assert pace(send(started_at=None)) is None


def test_times_are_written_in_utc_to_the_minute():
    assert short_time("2026-12-07T09:40:15.6+02:00") == "2026-12-07 07:40 UTC"
    assert short_time(None) == "—"
