"""The suppression list and a reader's timeline on PostgreSQL (the unit tier runs them on
SQLite): pages through inserts and deletes, the audit rows committed with the change, the
timeline's tie-breaks at one instant with PostgreSQL's microseconds, and the scopes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from service.access.keys import create_api_key
from service.extensions import db
from service.leaving import suppression
from service.models import (
    AuditEvent,
    ConsentRecord,
    Delivery,
    Newsletter,
    Send,
    Suppression,
    utcnow,
)
from tests.support.readers import add_reader


def test_suppressions_on_postgresql(postgres_app):
    client = postgres_app.test_client()
    reader = {"Authorization": f"Bearer {create_api_key('pg-read', ['read'])}"}
    writer = {"Authorization": f"Bearer {create_api_key('pg-write', ['write'])}"}
    for n in range(7):
        suppression.suppress(f"old{n}@gmail.com", "bounce")
    ids = [row["id"] for row in client.get("/api/v1/suppressions", headers=reader).json[
        "suppressions"]]  # fmt: skip
    seen, gone, cursor, step = [], set(), None, 0
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/suppressions?{query}", headers=reader).json
        seen += [row["id"] for row in page["suppressions"]]
        cursor = page["next"]
        if cursor is None:
            break
        added = client.post("/api/v1/suppressions", headers=writer,
                            json={"email": f"new{step}@gmail.com", "reason": "manual"})  # fmt: skip
        assert added.status_code == 201
        doomed = ids[-1 - step]
        if doomed not in seen:
            gone.add(doomed)
        removed = client.delete(f"/api/v1/suppressions/{doomed}?reason=test", headers=writer)
        assert removed.status_code == 200
        step += 1
    assert gone and not gone & set(seen) and len(seen) == len(set(seen)) and seen == sorted(seen)
    assert [i for i in ids if i not in gone] == [i for i in seen if i in ids]
    events = db.session.scalars(select(AuditEvent.event).order_by(AuditEvent.id)).all()
    assert events == ["suppression.added", "suppression.removed"] * step
    denied = client.post("/api/v1/suppressions", headers=reader,
                         json={"email": "x@gmail.com", "reason": "manual"})  # fmt: skip
    assert denied.status_code == 403 and denied.json["scope"] == "write"
    denied = client.delete(f"/api/v1/suppressions/{seen[0]}?reason=x", headers=reader)
    assert denied.status_code == 403
    assert db.session.get(Suppression, seen[0]) is not None


def test_timeline_on_postgresql(postgres_app):
    daily = Newsletter(slug="daily", name="Daily")
    db.session.add(daily)
    db.session.commit()
    person = add_reader(daily, email="tl@gmail.com")
    same = utcnow() - timedelta(hours=1)
    for n in range(6):
        db.session.add(ConsentRecord(subscriber_id=person.id, action="signup", form=f"c{n}",
                                     created_at=same + timedelta(microseconds=n % 2)))  # fmt: skip
    for n in range(4):
        send = Send(newsletter_id=daily.id, subject=f"d{n}", status="finished")
        db.session.add(send)
        db.session.flush()
        db.session.add(Delivery(send_id=send.id, subscriber_id=person.id, status="sent",
                                updated_at=same + timedelta(microseconds=1)))  # fmt: skip
    db.session.commit()
    client = postgres_app.test_client()
    headers = {"Authorization": f"Bearer {create_api_key('pg-console', ['read'])}"}
    path = f"/api/v1/subscribers/{person.id}/timeline"
    whole = [e.get("form") or e["subject"] for e in
             client.get(path, headers=headers).json["events"]]  # fmt: skip
    assert whole == ["d3", "d2", "d1", "d0", "c5", "c3", "c1", "c4", "c2", "c0"]
    seen, cursor, step = [], None, 0
    while True:
        page = client.get(f"{path}?limit=3" + (f"&cursor={cursor}" if cursor else ""),
                          headers=headers).json  # fmt: skip
        seen += [e.get("form") or e["subject"] for e in page["events"]]
        cursor = page["next"]
        if cursor is None:
            break
        db.session.execute(delete(ConsentRecord).where(ConsentRecord.form == f"c{2 * step}"))
        db.session.add(ConsentRecord(subscriber_id=person.id, action="confirm", form="new"))
        db.session.commit()
        step += 1
    assert seen == [n for n in whole if n not in {f"c{2 * s}" for s in range(step)}]
    assert client.get(path, headers={"Authorization": "Bearer nl_wrong"}).status_code == 401
