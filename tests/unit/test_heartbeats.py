"""Heartbeats: renewed in place, aged by the reader, forgotten on a clean stop or after a day."""

from __future__ import annotations

from datetime import timedelta

from service import heartbeats
from service.extensions import db
from service.models import utcnow


def test_a_heartbeat_is_renewed_in_place_and_ages(unit_app):
    engine = db.engine
    start = utcnow()
    heartbeats.record(engine, "worker", "w1@host", start)
    heartbeats.record(engine, "worker", "w1@host", start + timedelta(seconds=10))
    heartbeats.record(engine, "beat", "beat@host", start)
    seen = heartbeats.seen(start + timedelta(seconds=25))
    assert [(s.name, s.kind, s.age) for s in seen] == [
        ("beat@host", "beat", 25.0),
        ("w1@host", "worker", 15.0),
    ]


def test_a_clean_stop_and_a_day_of_silence_forget_a_process(unit_app):
    engine = db.engine
    start = utcnow()
    heartbeats.record(engine, "worker", "gone@host", start)
    heartbeats.record(engine, "worker", "stopped@host", start)
    heartbeats.forget(engine, "stopped@host")
    later = start + timedelta(seconds=heartbeats.FORGET_SECONDS + 1)
    heartbeats.record(engine, "worker", "new@host", later)
    assert [s.name for s in heartbeats.seen(later)] == ["new@host"]


def test_readyz_warns_of_a_silent_process_and_stays_200(unit_app):
    heartbeats.record(db.engine, "worker", "w1@host", utcnow() - timedelta(minutes=5))
    heartbeats.record(db.engine, "beat", heartbeats.beat_name(), utcnow())
    ready = unit_app.test_client().get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "warning"
    check = ready.json["checks"]["worker:w1@host"]
    assert check["status"] == "warning" and check["age_seconds"] >= 300
    assert ready.json["checks"][f"beat:{heartbeats.beat_name()}"]["status"] == "ok"
    assert "workers" not in ready.json["checks"]
