"""The suppression list over the API and the CLI: entries page without skipping or repeating,
never show an address or its hash, and every manual block added or lifted is in the audit log
(in the change's transaction: a refused change leaves no event)."""

from __future__ import annotations

import getpass
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from service.access.keys import create_api_key
from service.extensions import db
from service.leaving import suppression
from service.models import AuditEvent, Suppression


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def writer(unit_app) -> dict[str, str]:
    return auth(create_api_key("desk", ["write"]))


def events() -> list[tuple[str, str, str, dict]]:
    db.session.expire_all()
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    return [(r.event, r.via, r.target, r.detail) for r in rows]


def all_ids(client, headers, limit: int) -> list[int]:
    seen, cursor = [], None
    while True:
        query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/suppressions?{query}", headers=headers)
        assert page.status_code == 200, page.json
        seen += [row["id"] for row in page.json["suppressions"]]
        cursor = page.json["next"]
        if cursor is None:
            return seen


def test_an_address_added_is_blocked_logged_and_never_shown(unit_app, writer):
    client = unit_app.test_client()
    answer = client.post(
        "/api/v1/suppressions",
        headers=writer,
        json={"email": "Spam.Trap@Gmail.com", "reason": "spam_trap", "detail": "ticket 42"},
    )
    assert answer.status_code == 201, answer.json
    entry = answer.json
    assert entry["reason"] == "spam_trap" and entry["detail"] == "ticket 42"
    assert entry["hard"] is False
    assert answer.headers["Location"].endswith(f"/api/v1/suppressions/{entry['id']}")
    assert suppression.reason("spam.trap@gmail.com") == "spam_trap"
    listed = client.get("/api/v1/suppressions", headers=writer)
    digest = suppression.suppression_hash("spam.trap@gmail.com")
    for text in (answer.get_data(as_text=True), listed.get_data(as_text=True)):
        assert "trap" not in text.lower().replace("spam_trap", "")
        assert digest not in text
    assert listed.json == {"suppressions": [entry], "next": None}
    assert events() == [
        ("suppression.added", "api", f"suppression:{entry['id']}", {"reason": "spam_trap"})
    ]
    assert digest not in json.dumps(events())


def test_an_address_already_blocked_is_a_conflict_unless_the_reason_is_harder(unit_app, writer):
    client = unit_app.test_client()
    suppression.suppress("ann@gmail.com", suppression.UNSUBSCRIBE_ALL)
    harder = client.post("/api/v1/suppressions", headers=writer,
                         json={"email": "ann@gmail.com", "reason": "manual"})  # fmt: skip
    assert harder.status_code == 201
    assert harder.json["reason"] == "manual" and harder.json["hard"] is True
    again = client.post("/api/v1/suppressions", headers=writer,
                        json={"email": "ANN@gmail.com", "reason": "other"})  # fmt: skip
    assert again.status_code == 409
    assert again.json["code"] == "conflict" and again.json["id"] == harder.json["id"]
    assert suppression.reason("ann@gmail.com") == "manual"
    assert [e for e, *_ in events()] == ["suppression.added"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"reason": "manual"}, 422, "email"),
        ({"email": "not an address", "reason": "manual"}, 422, "email"),
        ({"email": "a" * 321 + "@gmail.com", "reason": "manual"}, 422, "email"),
        ({"email": 7, "reason": "manual"}, 422, "email"),
        ({"email": "bob@gmail.com"}, 422, "reason"),
        ({"email": "bob@gmail.com", "reason": "two words"}, 422, "reason"),
        ({"email": "bob@gmail.com", "reason": "x" * 33}, 422, "reason"),
        ({"email": "bob@gmail.com", "reason": "manual", "detail": "a\nb"}, 422, "detail"),
        ({"email": "bob@gmail.com", "reason": "manual", "detail": 5}, 422, "detail"),
        (["bob@gmail.com"], 400, None),
    ],
)
def test_a_bad_addition_is_refused_and_leaves_nothing(unit_app, writer, body, status, field):
    answer = unit_app.test_client().post("/api/v1/suppressions", headers=writer, json=body)
    assert answer.status_code == status, answer.json
    assert answer.json.get("field") == field
    assert db.session.scalars(select(Suppression)).all() == []
    assert events() == []


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(reason=st.text(max_size=40), detail=st.one_of(st.none(), st.text(max_size=60)))
def test_any_reason_or_detail_is_stored_as_given_or_refused(unit_app, writer, reason, detail):
    client = unit_app.test_client()
    answer = client.post("/api/v1/suppressions", headers=writer,
                         json={"email": "fuzz@gmail.com", "reason": reason, "detail": detail})  # fmt: skip
    assert answer.status_code in (201, 400, 422), answer.get_data(as_text=True)
    if answer.status_code == 201:
        assert answer.json["reason"] == reason
        assert answer.json["detail"] == (detail or "").strip()
        assert "\n" not in answer.json["detail"]
    db.session.execute(delete(Suppression))
    db.session.execute(delete(AuditEvent))
    db.session.commit()


def test_a_block_is_lifted_with_a_reason_that_is_logged(unit_app, writer):
    client = unit_app.test_client()
    first = client.post("/api/v1/suppressions", headers=writer,
                        json={"email": "cat@gmail.com", "reason": "manual"}).json  # fmt: skip
    second = client.post("/api/v1/suppressions", headers=writer,
                         json={"email": "dan@gmail.com", "reason": "manual"}).json  # fmt: skip
    path = f"/api/v1/suppressions/{first['id']}"
    assert client.delete(path, headers=writer).status_code == 422
    assert client.delete(path + "?reason=%20", headers=writer).status_code == 422
    assert client.delete(path + "?reason=a%0Ab", headers=writer).status_code == 422
    assert suppression.reason("cat@gmail.com") == "manual"
    lifted = client.delete(path + "?reason=asked+by+the+reader", headers=writer)
    assert lifted.status_code == 200
    assert lifted.json == {"id": first["id"], "status": "removed"}
    assert suppression.reason("cat@gmail.com") is None
    assert client.delete(path + "?reason=again", headers=writer).status_code == 404
    by_body = client.delete(f"/api/v1/suppressions/{second['id']}", headers=writer,
                            json={"reason": "ticket 7"})  # fmt: skip
    assert by_body.status_code == 200
    assert events()[2:] == [
        ("suppression.removed", "api", f"suppression:{first['id']}",
         {"reason": "manual", "why": "asked by the reader"}),
        ("suppression.removed", "api", f"suppression:{second['id']}",
         {"reason": "manual", "why": "ticket 7"}),
    ]  # fmt: skip


def test_one_address_can_be_checked_without_listing_the_others(unit_app, writer):
    client = unit_app.test_client()
    for address in ("eve@gmail.com", "fay@gmail.com"):
        suppression.suppress(address, "bounce")
    found = client.get("/api/v1/suppressions?email=FAY@gmail.com", headers=writer).json
    assert [row["reason"] for row in found["suppressions"]] == ["bounce"]
    assert found["suppressions"][0]["id"] == suppression_id("fay@gmail.com")
    none = client.get("/api/v1/suppressions?email=gus@gmail.com", headers=writer).json
    assert none == {"suppressions": [], "next": None}
    bad = client.get("/api/v1/suppressions?email=nope", headers=writer)
    assert bad.status_code == 422 and bad.json["field"] == "email"


def suppression_id(address: str) -> int:
    return db.session.scalar(
        select(Suppression.id).where(
            Suppression.email_hash == suppression.suppression_hash(address)
        )
    )


def test_pages_skip_nothing_and_repeat_nothing_through_inserts_and_deletes(unit_app, writer):
    client = unit_app.test_client()
    for n in range(10):
        suppression.suppress(f"r{n}@gmail.com", "manual")
    ids = all_ids(client, writer, limit=500)
    assert ids == sorted(ids) and len(ids) == 10
    seen, cursor, step = [], None, 0
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/suppressions?{query}", headers=writer).json
        seen += [row["id"] for row in page["suppressions"]]
        cursor = page["next"]
        if cursor is None:
            break
        # between pages: one shown already and one still to come go; a new one comes
        db.session.execute(delete(Suppression).where(Suppression.id.in_([seen[0], ids[-1]])))
        db.session.commit()
        suppression.suppress(f"new{step}@gmail.com", "manual")
        ids.remove(ids[-1])
        step += 1
    assert len(seen) == len(set(seen))
    assert set(ids) - {seen[0]} <= set(seen)  # everything there throughout was shown once
    assert seen == sorted(seen)
    assert client.get("/api/v1/suppressions?cursor=bogus", headers=writer).status_code == 422
    assert client.get("/api/v1/suppressions?limit=501", headers=writer).status_code == 422


def test_read_keys_list_and_only_write_keys_change(unit_app):
    client = unit_app.test_client()
    reader = auth(create_api_key("viewer", ["read"]))
    sender = auth(create_api_key("sender", ["send"]))
    suppression.suppress("hal@gmail.com", "manual")
    entry = suppression_id("hal@gmail.com")
    assert client.get("/api/v1/suppressions", headers=reader).status_code == 200
    for headers in (reader, sender):
        added = client.post("/api/v1/suppressions", headers=headers,
                            json={"email": "ivy@gmail.com", "reason": "manual"})  # fmt: skip
        removed = client.delete(f"/api/v1/suppressions/{entry}?reason=x", headers=headers)
        for answer in (added, removed):
            assert answer.status_code == 403
            assert answer.json["code"] == "insufficient_scope" and answer.json["scope"] == "write"
    assert suppression.reason("ivy@gmail.com") is None
    assert suppression.reason("hal@gmail.com") == "manual"
    assert events() == []


def test_the_cli_records_its_changes_by_os_user(unit_app):
    runner = unit_app.test_cli_runner()

    def cli(*args: str) -> str:
        result = runner.invoke(args=list(args))
        db.session.remove()
        return f"{result.exit_code}:{result.output.strip()}"

    assert cli("suppressions", "add", "Jo@gmail.com", "--detail", "ticket 9") == (
        "0:suppressed (manual)"
    )
    assert cli("suppressions", "add", "jo@gmail.com", "--reason", "bounce") == (
        "0:suppressed (manual)"
    )  # already blocked: no change, no event
    assert cli("suppressions", "add", "kim@gmail.com", "--reason", "two words")[:2] == "2:"
    assert cli("suppressions", "remove", "kim@gmail.com") == "0:not suppressed"
    assert cli("suppressions", "remove", "jo@gmail.com", "--reason", "wrong address") == (
        "0:removed"
    )
    assert cli("suppressions", "check", "jo@gmail.com") == "1:not suppressed"
    user = getpass.getuser()
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(r.event, r.via, r.actor, r.detail) for r in rows] == [
        ("suppression.added", "cli", user, {"reason": "manual"}),
        ("suppression.removed", "cli", user, {"reason": "manual", "why": "wrong address"}),
    ]
