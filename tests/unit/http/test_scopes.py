"""Every admin endpoint against every scope, generated from the app's URL map: an endpoint added
without a declared scope fails here, and each one answers 401 without a key, 403
`insufficient_scope` naming its scope to a key without it, and runs for a key with it."""

from __future__ import annotations

import re
import uuid

from flask import Flask

from service.access.keys import GRANTS, SCOPES, create_api_key, revoke_api_key
from service.http.auth import required_scope

# The only routes under /api/v1/ anyone may call without a key.
PUBLIC = {"admin.api_index", "public.create_subscription", "public.subscriptions_preflight"}
SKIPPED = {"HEAD", "OPTIONS"}
_PARAM = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")


def admin_operations(app: Flask) -> list[tuple[str, str, str]]:
    """(method, rule, endpoint) of every route under /api/v1/ that is not public."""
    return sorted(
        (method, rule.rule, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint not in PUBLIC
        for method in (rule.methods or set()) - SKIPPED
    )


def undeclared(app: Flask) -> list[str]:
    """Admin routes whose view declares no scope."""
    return sorted(
        {e for _, _, e in admin_operations(app) if required_scope(app.view_functions[e]) is None}
    )


def example_path(rule: str) -> str:
    """`rule` with every parameter filled by a value that names nothing (an absent id)."""

    def fill(match: re.Match) -> str:
        if match["converter"] == "any":
            return match["args"].split(",")[0].strip().strip("'\"")
        if match["converter"] == "int":
            return "999999"
        return "no-such-thing"

    return _PARAM.sub(fill, rule)


def test_every_admin_endpoint_declares_a_scope(unit_app):
    assert len(admin_operations(unit_app)) >= 15
    assert undeclared(unit_app) == []


def test_an_endpoint_added_without_a_scope_is_caught(unit_app):
    @unit_app.get("/api/v1/widgets")
    def widgets():
        return {"widgets": []}

    assert undeclared(unit_app) == ["widgets"]


def test_every_admin_endpoint_against_every_scope(unit_app):
    client = unit_app.test_client()
    keys = {scope: create_api_key(f"matrix-{scope}", [scope]) for scope in SCOPES}
    wrong = []
    for method, rule, endpoint in admin_operations(unit_app):
        needed = required_scope(unit_app.view_functions[endpoint])
        path = example_path(rule)
        anonymous = client.open(path, method=method, json={})
        if anonymous.status_code != 401 or anonymous.headers.get("WWW-Authenticate", "")[:6] != (
            "Bearer"
        ):
            wrong.append((method, rule, "no key", anonymous.status_code))
        for scope, key in keys.items():
            answer = client.open(
                path, method=method, json={}, headers={"Authorization": f"Bearer {key}"}
            )
            if needed in GRANTS[scope]:
                if answer.status_code in (401, 403) or answer.status_code >= 500:
                    wrong.append((method, rule, scope, answer.status_code))
            elif (
                answer.status_code != 403
                or answer.json.get("code") != "insufficient_scope"
                or answer.json.get("scope") != needed
                or f'scope="{needed}"' not in answer.headers.get("WWW-Authenticate", "")
            ):
                wrong.append((method, rule, scope, answer.status_code))
    assert wrong == []


def test_the_scopes_each_endpoint_needs(unit_app):
    """The table operators read in docs/interface.md, checked against the code."""
    needs = {
        (method, rule): required_scope(unit_app.view_functions[endpoint])
        for method, rule, endpoint in admin_operations(unit_app)
    }
    assert needs[("GET", "/api/v1/newsletters")] == "read"
    assert needs[("POST", "/api/v1/newsletters")] == "write"
    assert needs[("POST", "/api/v1/newsletters/<slug>/sends")] == "send"
    assert needs[("POST", "/api/v1/sends/<int:send_id>/<any(pause, resume, cancel):action>")] == (
        "send"
    )
    assert needs[("DELETE", "/api/v1/subscribers/<int:subscriber_id>")] == "write"
    assert {needs[(m, "/api/v1/api-keys")] for m in ("GET", "POST")} == {"admin"}
    assert needs[("GET", "/api/v1/suppressions")] == "read"
    assert needs[("POST", "/api/v1/suppressions")] == "write"
    assert needs[("DELETE", "/api/v1/suppressions/<int:entry_id>")] == "write"
    assert needs[("GET", "/api/v1/subscribers/<int:subscriber_id>/timeline")] == "read"


def test_a_missing_wrong_or_revoked_key_is_a_401_with_bearer(unit_app):
    client = unit_app.test_client()
    name = f"gone-{uuid.uuid4().hex[:6]}"
    key = create_api_key(name, ["read"])
    ok = client.get("/api/v1/newsletters", headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200
    revoke_api_key(name)
    for header in (None, "Bearer nl_wrong", f"Basic {key}", f"Bearer {key}", "Bearer "):
        answer = client.get("/api/v1/newsletters", headers={"Authorization": header or ""})
        assert answer.status_code == 401, header
        assert answer.headers["WWW-Authenticate"].startswith("Bearer"), header
        assert answer.json["code"] == "unauthorized"
