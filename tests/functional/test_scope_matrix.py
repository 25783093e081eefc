"""Every `/api/v1` route declares its scope, and every admin endpoint answers each key's scope
as the declaration says: 403 `insufficient_scope` for a key without it, anything but 403 for a
key with it. The matrix is generated from the URL map, so a new endpoint without a declared
scope fails here."""

from __future__ import annotations

import re

import pytest

from service.access.keys import GRANTS, SCOPES, create_api_key
from service.http.contract import PUBLIC, declaration

_PART = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")


def _url(rule: str) -> str:
    """A concrete URL for a rule: ids 1, names `x`, the first choice of an `any`."""

    def one(match: re.Match) -> str:
        if match["converter"] == "any":
            return match["args"].split(",")[0].strip().strip("'\"")
        return "1" if match["converter"] == "int" else "x"

    return _PART.sub(one, rule)


def _admin_calls(app) -> list[tuple[str, str, str]]:
    calls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        declared = declaration(app.view_functions[rule.endpoint])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            calls.append((method, rule.rule, declared.scope if declared else ""))
    return calls


def test_every_api_route_declares_a_scope(sqlite_app):
    calls = _admin_calls(sqlite_app)
    assert len(calls) > 20
    missing = [(m, r) for m, r, scope in calls if scope not in (*SCOPES, PUBLIC)]
    assert not missing, f"declare a scope with @endpoint(...) on: {missing}"


@pytest.mark.parametrize("held", SCOPES)
def test_each_scope_is_refused_exactly_where_the_declaration_says(sqlite_app, held):
    client = sqlite_app.test_client()
    with sqlite_app.app_context():
        key = create_api_key(f"matrix-{held}", [held])
    for method, rule, needed in _admin_calls(sqlite_app):
        if needed == PUBLIC:
            continue
        url = _url(rule)
        answer = client.open(
            url, method=method, json={}, headers={"Authorization": f"Bearer {key}"}
        )
        if needed in GRANTS[held]:
            assert answer.status_code != 403, (held, method, url, answer.json)
        else:
            assert answer.status_code == 403, (held, method, url, answer.status_code)
            assert answer.json["code"] == "insufficient_scope" and answer.json["scope"] == needed
        bare = client.open(url, method=method, json={})
        assert bare.status_code == 401 and bare.headers["WWW-Authenticate"].startswith("Bearer")
