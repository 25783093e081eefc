"""The audit log: every operator action, from the API and the CLI, is one row (who, what, when)
written in the transaction of the change; a failed action leaves none; names are registered
once; `GET /api/v1/audit` pages newest first without skipping or repeating."""

from __future__ import annotations

import getpass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from service import audit
from service.access.keys import create_api_key
from service.extensions import db
from service.models import AuditEvent, utcnow
from service.sending import lifecycle
from tests.support.readers import add_reader

OPERATOR_EVENTS = {
    "send.started", "send.paused", "send.resumed", "send.cancelled", "api_key.created",
    "api_key.revoked", "newsletter.created", "newsletter.changed", "reader.erased",
    "suppression.added", "suppression.removed",
}  # fmt: skip


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def events() -> list[tuple[str, str, str, str]]:
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    return [(r.event, r.via, r.actor, r.target) for r in rows]


def test_every_operator_action_has_a_registered_name(unit_app):
    assert set(audit.registered()) >= OPERATOR_EVENTS


def test_a_name_registered_twice_is_refused():
    with pytest.raises(audit.DuplicateEvent):
        audit.event("send.paused", "again")
    assert audit.registered()["send.paused"] == "an operator paused a send"


def test_an_unregistered_name_is_refused(unit_app):
    with pytest.raises(audit.UnknownEvent):
        audit.record("send.exploded", audit.Actor("cli", "root"))


def test_api_actions_are_logged_by_key_name(unit_app, add_newsletter):
    add_reader(add_newsletter("daily"))  # a send needs a confirmed reader
    key = create_api_key("desk", ["admin"])
    client = unit_app.test_client()
    later = (utcnow() + timedelta(days=1)).isoformat()
    send = client.post("/api/v1/newsletters/daily/sends", headers=auth(key),
                       json={"scheduled_at": later}).json  # fmt: skip
    for action in ("pause", "resume", "cancel"):
        answer = client.post(f"/api/v1/sends/{send['id']}/{action}", headers=auth(key))
        assert answer.status_code == 200, answer.json
    assert client.post("/api/v1/newsletters", headers=auth(key),
                       json={"slug": "weekly", "name": "Weekly"}).status_code == 201  # fmt: skip
    client.patch("/api/v1/newsletters/weekly", headers=auth(key), json={"name": "Weekend"})
    made = client.post("/api/v1/api-keys", headers=auth(key), json={"name": "crm"}).json
    client.delete("/api/v1/api-keys/crm", headers=auth(key))
    reader_id = add_reader(email="olena@gmail.com").id
    assert client.delete(f"/api/v1/subscribers/{reader_id}", headers=auth(key)).status_code == 200
    target = f"send:{send['id']}"
    assert events() == [
        ("send.started", "api", "desk", target),
        ("send.paused", "api", "desk", target),
        ("send.resumed", "api", "desk", target),
        ("send.cancelled", "api", "desk", target),
        ("newsletter.created", "api", "desk", "newsletter:weekly"),
        ("newsletter.changed", "api", "desk", "newsletter:weekly"),
        ("api_key.created", "api", "desk", "api_key:crm"),
        ("api_key.revoked", "api", "desk", "api_key:crm"),
        ("reader.erased", "api", "desk", f"subscriber:{reader_id}"),
    ]
    assert made["key"] not in str(db.session.scalars(select(AuditEvent.detail)).all())
    assert "olena" not in str(db.session.execute(select(AuditEvent)).all())


def test_cli_actions_are_logged_by_os_user(unit_app, add_newsletter):
    add_reader(add_newsletter("daily"))  # a send needs a confirmed reader
    runner = unit_app.test_cli_runner()

    def cli(*args: str) -> str:
        result = runner.invoke(args=list(args))
        assert result.exit_code == 0, result.output
        db.session.remove()
        return result.output

    cli("api-keys", "create", "ops", "--scope", "read")
    cli("api-keys", "revoke", "ops")
    cli("newsletters", "create", "weekly", "--name", "Weekly")
    cli("newsletters", "update", "weekly", "--name", "Weekend")
    later = (utcnow() + timedelta(days=1)).isoformat()
    cli("digest", "send", "daily", "--at", later)
    send_id = db.session.scalar(select(func.max(AuditEvent.target)).where(
        AuditEvent.event == "send.started")).split(":")[1]  # fmt: skip
    for action in ("pause", "resume", "cancel"):
        cli("sends", action, send_id)
    user = getpass.getuser()
    assert {(via, actor) for _, via, actor, _ in events()} == {("cli", user)}
    assert [e for e, *_ in events()] == [
        "api_key.created", "api_key.revoked", "newsletter.created", "newsletter.changed",
        "send.started", "send.paused", "send.resumed", "send.cancelled",
    ]  # fmt: skip


def test_a_refused_action_leaves_no_event(unit_app, add_newsletter):
    """The event is written in the change's transaction: no change, no event."""
    add_reader(add_newsletter("daily"))  # a send needs a confirmed reader
    key = create_api_key("desk", ["send"])
    client = unit_app.test_client()
    later = (utcnow() + timedelta(days=1)).isoformat()
    send = client.post("/api/v1/newsletters/daily/sends", headers=auth(key),
                       json={"scheduled_at": later}).json  # fmt: skip
    assert client.post(f"/api/v1/sends/{send['id']}/resume", headers=auth(key)).status_code == 409
    again = client.post("/api/v1/newsletters/daily/sends", headers=auth(key), json={})
    assert again.status_code == 409  # the newsletter's send is in progress
    assert [e for e, *_ in events()] == ["send.started"]


def test_the_services_own_pause_is_not_an_operator_action(unit_app, add_newsletter):
    add_reader(add_newsletter("daily"))  # a send needs a confirmed reader
    key = create_api_key("desk", ["send"])
    later = (utcnow() + timedelta(days=1)).isoformat()
    client = unit_app.test_client()
    send = client.post("/api/v1/newsletters/daily/sends", headers=auth(key),
                       json={"scheduled_at": later}).json  # fmt: skip
    lifecycle.pause_send(send["id"], "too many failures in a row")
    assert [e for e, *_ in events()] == ["send.started"]


def test_the_log_pages_newest_first_through_inserts_and_deletes(unit_app):
    key = create_api_key("auditor", ["admin"])
    client = unit_app.test_client()
    actor = audit.Actor("cli", "root")
    for n in range(7):
        audit.record("newsletter.changed", actor, f"newsletter:n{n}")
    db.session.commit()
    seen, cursor = [], None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(f"/api/v1/audit{query}", headers=auth(key))
        assert answer.status_code == 200, answer.json
        seen += [e["target"] for e in answer.json["events"]]
        cursor = answer.json["next"]
        if len(seen) == 3:  # between pages: a new event, and one not yet seen is gone
            audit.record("newsletter.changed", actor, "newsletter:new")
            db.session.execute(
                AuditEvent.__table__.delete().where(AuditEvent.target == "newsletter:n2")
            )
            db.session.commit()
        if cursor is None:
            break
    assert seen == [f"newsletter:n{n}" for n in (6, 5, 4, 3, 1, 0)]
    newest = client.get("/api/v1/audit?limit=1", headers=auth(key)).json
    assert newest["events"][0]["target"] == "newsletter:new" and newest["next"]
    assert newest["events"][0]["via"] == "cli" and newest["events"][0]["actor"] == "root"


def test_only_admin_keys_read_the_log(unit_app):
    client = unit_app.test_client()
    for scope in ("read", "write", "send"):
        answer = client.get("/api/v1/audit", headers=auth(create_api_key(f"k-{scope}", [scope])))
        assert answer.status_code == 403 and answer.json["scope"] == "admin"
