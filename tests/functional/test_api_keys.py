"""API keys over the admin API and the CLI, on SQLite and PostgreSQL: create with scopes (the
key shown once), list (never the key), revoke (its next request is a 401)."""

from __future__ import annotations

import uuid

import pytest

from service.access.keys import create_api_key
from service.extensions import db


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        db.session.remove()
        result = runner.invoke(args=list(args))
        db.session.remove()
        return result

    return invoke


def test_an_admin_key_creates_lists_and_revokes_keys(client, api_key):
    name = f"crm {uuid.uuid4().hex[:6]}"
    created = client.post("/api/v1/api-keys", headers=auth(api_key), json={"name": name,
                          "scopes": ["write", "read", "write"]})  # fmt: skip
    assert created.status_code == 201, created.json
    assert created.json["scopes"] == ["read", "write"] and created.json["name"] == name
    assert created.headers["Cache-Control"] == "no-store"
    key = created.json["key"]
    assert client.get("/api/v1/newsletters", headers=auth(key)).status_code == 200
    denied = client.get("/api/v1/api-keys", headers=auth(key))
    assert denied.status_code == 403 and denied.json["scope"] == "admin"

    again = client.post("/api/v1/api-keys", headers=auth(api_key), json={"name": name})
    assert again.status_code == 409 and again.json["field"] == "name"

    listed = client.get("/api/v1/api-keys?limit=500", headers=auth(api_key)).json
    mine = [k for k in listed["api_keys"] if k["name"] == name]
    assert mine == [{k: v for k, v in created.json.items() if k != "key"} | mine[0]]
    assert mine[0]["last_used_at"] is not None  # it was used above
    assert key not in str(listed) and key[10:] not in str(listed)

    revoked = client.delete(created.headers["Location"], headers=auth(api_key))
    assert revoked.status_code == 200 and revoked.json == {"name": name, "status": "revoked"}
    assert client.get("/api/v1/newsletters", headers=auth(key)).status_code == 401
    gone = client.delete(created.headers["Location"], headers=auth(api_key))
    assert gone.status_code == 404


def test_a_key_cannot_revoke_itself_over_the_api(client, api_key):
    name = client.get("/api/v1/api-keys?limit=500", headers=auth(api_key)).json["api_keys"]
    own = next(k["name"] for k in name if api_key.startswith(k["prefix"]))
    refused = client.delete(f"/api/v1/api-keys/{own}", headers=auth(api_key))
    assert refused.status_code == 409 and refused.json["code"] == "own_key"
    assert client.get("/api/v1/newsletters", headers=auth(api_key)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{"name": ""}, {"name": "a/b"}, {"name": "ok", "scopes": []},
     {"name": "ok", "scopes": ["root"]}, {"name": "ok", "scopes": None}, {"name": ["x"]}],
)  # fmt: skip
def test_a_bad_key_request_is_a_422_naming_the_field(client, api_key, body):
    answer = client.post("/api/v1/api-keys", headers=auth(api_key), json=body)
    assert answer.status_code == 422 and answer.json["field"] in ("name", "scopes")


def test_the_list_pages_with_a_cursor(client, api_key):
    for _ in range(3):
        create_api_key(f"page-{uuid.uuid4().hex[:6]}", ["read"])
    seen, cursor, pages = [], None, 0
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(f"/api/v1/api-keys{query}", headers=auth(api_key)).json
        seen += [k["name"] for k in answer["api_keys"]]
        pages += 1
        cursor = answer["next"]
        if cursor is None:
            break
    assert pages >= 2 and len(seen) == len(set(seen)) >= 4
    for bad in ("limit=0", "limit=501", "limit=x", "cursor=nope", "cursor=WzEsMl0"):
        answer = client.get(f"/api/v1/api-keys?{bad}", headers=auth(api_key))
        assert answer.status_code == 422, bad


def test_the_cli_creates_lists_and_revokes(cli, client):
    name = f"ops-{uuid.uuid4().hex[:6]}"
    made = cli("api-keys", "create", name, "--scope", "send", "--scope", "read")
    assert made.exit_code == 0, made.output
    key = made.output.strip()
    assert key.startswith("nl_")
    assert client.get("/api/v1/newsletters", headers=auth(key)).status_code == 200
    listed = cli("api-keys", "list")
    assert listed.exit_code == 0 and key not in listed.output
    (line,) = [row for row in listed.output.splitlines() if row.startswith(name + " ")]
    assert "read,send" in line and key[:10] in line
    assert cli("api-keys", "create", name).exit_code == 1  # the name is taken
    assert cli("api-keys", "create", "x", "--scope", "root").exit_code == 2
    revoked = cli("api-keys", "revoke", name)
    assert revoked.exit_code == 0 and revoked.output.strip() == f"revoked {name}"
    assert client.get("/api/v1/newsletters", headers=auth(key)).status_code == 401
    again = cli("api-keys", "revoke", name)
    assert again.exit_code == 1 and "No active key" in again.output
