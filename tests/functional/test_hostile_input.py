"""Hostile input on every route: never a 500, always a 4xx in the public error shape.

The routes come from `app.url_map`, so a route added tomorrow is covered without editing this
file. Each case is a class of input (ids past the column, JSON nested a thousand deep, NUL in
any text, bodies over the limit, the wrong content type, bytes that are not UTF-8, headers in
odd encodings), tried on SQLite and PostgreSQL with the app's own error handling on.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.access.keys import create_api_key
from service.extensions import db
from service.http.body_limit import LARGER_BODIES
from service.http.input_guard import MAX_ID, MAX_JSON_DEPTH
from service.http.openapi import SKIPPED_METHODS, openapi_paths
from service.models import Newsletter

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
DEEP = "[" * 1000 + "]" * 1000
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(params=["sqlite", "postgresql"])
def hostile_app(request) -> Iterator[Flask]:
    """An app on each backend with the production error path (no exception propagation)."""
    app = request.getfixturevalue("sqlite_app" if request.param == "sqlite" else "postgres_app")
    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
    db.session.commit()
    yield app
    app.testing = True
    app.config["PROPAGATE_EXCEPTIONS"] = None


@pytest.fixture
def headers(hostile_app) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key(f'hostile-{uuid.uuid4().hex[:8]}')}"}


DEV_PREFIX = "demo."  # the dev-only demo pages


def routes(app: Flask, values: dict[str, str] | None = None) -> list[tuple[str, str, list[str]]]:
    """(method, concrete path, names of its int parameters) for every route the app serves."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith(DEV_PREFIX):
            continue
        for template, names in openapi_paths(rule.rule):
            ints = [name for name in names if f"<int:{name}>" in rule.rule]
            path = re.sub(
                r"{(\w+)}",
                lambda m, ints=ints: (values or {}).get(m[1], "1" if m[1] in ints else "daily"),
                template,
            )
            for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
                found.append((method, path, ints))
    return found


def assert_error_shape(response, status: int | tuple[int, ...]) -> None:
    allowed = status if isinstance(status, tuple) else (status,)
    assert response.status_code in allowed, (response.status_code, response.get_data()[:300])
    if response.mimetype == "application/json":
        assert response.json["status"] == "error"
        assert response.json["code"]
        assert "Traceback" not in response.json["message"]


def test_every_int_route_answers_404_for_ids_past_the_column(hostile_app, headers):
    client = hostile_app.test_client()
    names = {name for _, _, ints in routes(hostile_app) for name in ints}
    assert {"send_id", "subscriber_id"} <= names
    for huge in (MAX_ID, MAX_ID + 1, 2**63, 2**64, 10**40):
        int_routes = [
            (m, p) for m, p, ints in routes(hostile_app, dict.fromkeys(names, str(huge))) if ints
        ]
        assert ("GET", f"/archive/daily/{huge}") in int_routes
        for method, path in int_routes:
            response = client.open(path, method=method, headers=headers, json={})
            if path.startswith("/admin/"):  # the console: a stranger learns nothing, either way
                # past the column no route matches (404); else to sign in, or no CSRF token
                expected = {404, 405, 302 if method == "GET" else 400}
                assert response.status_code in expected, (method, path, response.status_code)
                if response.status_code == 302:
                    assert response.location.startswith("/admin/sign-in?next=")
                continue
            assert_error_shape(response, 404)


def test_json_nested_a_thousand_deep_is_a_clear_400_on_every_route(hostile_app, headers):
    hostile_app.config["RATELIMIT_ENABLED"] = True  # the limiter's key function reads the body
    client = hostile_app.test_client()
    for method, path, _ in routes(hostile_app):
        if method not in BODY_METHODS:
            continue
        for body in (
            DEEP,
            '{"a":' * 500 + "1" + "}" * 500,
            "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
        ):
            response = client.open(
                path, method=method, headers=headers, data=body, content_type="application/json"
            )
            if path.startswith("/webhooks/"):
                # a provider hook reads nothing before its signature (input_guard.raw_body):
                # unset, it does not exist; signed, a deep body is its parser's 400
                assert_error_shape(response, 404)
                continue
            assert_error_shape(response, 400)
            assert response.json["code"] == "bad_request"
            assert f"more than {MAX_JSON_DEPTH} levels" in response.json["message"], path


def test_json_as_deep_as_allowed_still_reaches_the_view(hostile_app, headers):
    client = hostile_app.test_client()
    body = {"email": "a@gmail.com", "newsletters": ["daily"], "extra": [[[[1]]]]}
    response = client.post("/api/v1/subscriptions", json=body)
    assert response.status_code == 202, response.json


HOSTILE_BODIES = [
    pytest.param(b'{"email": "\xff\xfe"}', "application/json", id="json-not-utf8"),
    pytest.param(b"email=\xff\xfe&newsletters=daily&name=\xc3", FORM, id="form-not-utf8"),
    pytest.param(b"NaN", "application/json", id="json-nan"),
    pytest.param(b'{"scheduled_at": Infinity, "email": -Infinity}', "application/json", id="json-inf"),
    pytest.param(b"[1, 2", "application/json", id="json-truncated"),
    pytest.param(b"\x00\x01\x02", "application/octet-stream", id="binary"),
    pytest.param(b'{"email": 1}', "text/plain", id="json-as-text-plain"),
    pytest.param(b'{"email": "a@gmail.com"}', FORM, id="json-as-form"),
    pytest.param(b"email=a%40gmail.com", "application/json", id="form-as-json"),
    pytest.param(b'--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na\r\n', "multipart/form-data; boundary=x", id="multipart-truncated"),
    pytest.param(b"a=1", "multipart/form-data", id="multipart-no-boundary"),
    pytest.param(b'--x\r\nContent-Disposition: form-data; name="c\xf2\xba\xbb\\"\r\n\r\nv\r\n--x--\r\n', "multipart/form-data; boundary=x", id="multipart-odd-name"),
    pytest.param(b'{"newsletters": [{"a": 1}], "email": {"x": []}, "name": [], "title": 1e999}', "application/json", id="json-wrong-types"),
    pytest.param(b'{"min_new_articles": 100000000000000000000000000000, "slug": "x", "name": "y"}', "application/json", id="json-huge-int"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "content_type"), HOSTILE_BODIES)
def test_hostile_bodies_never_500_on_any_route(hostile_app, headers, body, content_type):
    client = hostile_app.test_client()
    for method, path, _ in routes(hostile_app):
        if method not in BODY_METHODS:
            continue
        response = client.open(
            path, method=method, headers=headers, data=body, content_type=content_type
        )
        assert response.status_code < 500, (method, path, response.get_data()[:300])
        if response.status_code >= 400:
            assert_error_shape(response, response.status_code)


@pytest.mark.parametrize("content_type", ["application/json", FORM, "text/plain"])
def test_a_body_over_16_kib_is_a_413_on_every_route(hostile_app, headers, content_type):
    client = hostile_app.test_client()
    body = b"email=" + b"x" * (16 * 1024)
    for method, path, _ in routes(hostile_app):
        if (method, path) in LARGER_BODIES:
            continue  # a list upload: its own limit (tests/unit/http/test_imports_api.py)
        if method in BODY_METHODS:
            response = client.open(
                path, method=method, headers=headers, data=body, content_type=content_type
            )
            if path.startswith("/webhooks/"):  # a provider hook: its own limit (1 MiB), and
                assert_error_shape(response, 404)  # unset, it does not exist
            elif response.status_code != 405:
                assert_error_shape(response, 413)


NUL_REQUESTS = [
    pytest.param("GET", "/archive/da%00ily", None, None, id="path"),
    pytest.param("GET", "/forms/%00", None, None, id="path-forms"),
    pytest.param("PATCH", "/api/v1/newsletters/x%00", None, {"name": "n"}, id="path-admin"),
    pytest.param("GET", "/api/v1/subscribers?email=a%00@gmail.com", None, None, id="query"),
    pytest.param("GET", "/subscribe?locale=%00", None, None, id="query-page"),
    pytest.param(
        "POST",
        "/api/v1/subscriptions",
        {"email": "a@gmail.com", "newsletters": "dai\x00ly"},
        None,
        id="form",
    ),
    pytest.param("POST", "/manage", {"email": "a\x00@gmail.com"}, None, id="form-page"),
    pytest.param(
        "POST",
        "/api/v1/subscriptions",
        None,
        {"email": "a@gmail.com", "newsletters": ["daily\x00"]},
        id="json",
    ),
    pytest.param(
        "POST",
        "/api/v1/newsletters",
        None,
        {"slug": "ok", "name": "x", "description": {"\x00": 1}},
        id="json-key",
    ),
    pytest.param(
        "POST",
        "/api/v1/articles",
        None,
        [{"title": "t\x00", "url": "https://e.org/a"}],
        id="json-list",
    ),
]


@pytest.mark.parametrize(("method", "path", "form", "json_body"), NUL_REQUESTS)
def test_nul_anywhere_is_a_400_naming_the_field(
    hostile_app, headers, method, path, form, json_body
):
    client = hostile_app.test_client()
    response = client.open(path, method=method, headers=headers, data=form, json=json_body)
    assert_error_shape(response, 400)
    assert response.json["code"] == "bad_request"
    assert "NUL character" in response.json["message"]


ODD_HEADERS = {
    "Accept-Language": "uk\xff,\xe9n;q=0.\x80",
    "Referer": "http://\xe9xample.org/\xff",
    "Origin": "https://\xff.example",
    "User-Agent": "Mozilla\xff\xfe",
    "Accept": "text/\xe9tml, */\x80",
    "X-Forwarded-For": "\xff, 1.2.3.4",
    "Content-Language": "\x80",
}


def test_header_values_in_odd_encodings_never_500(hostile_app, headers):
    client = hostile_app.test_client()
    for method, path, _ in routes(hostile_app):
        for name, value in ODD_HEADERS.items():
            response = client.open(path, method=method, headers={**headers, name: value}, json={})
            assert response.status_code < 500, (method, path, name, response.get_data()[:300])
        bad_key = client.open(path, method=method, headers={"Authorization": "Bearer \xff\xe9"})
        assert bad_key.status_code < 500, (method, path)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(st.characters(codec="utf-8"), max_size=40))
def test_any_text_in_a_query_or_field_is_a_4xx_or_an_answer(hostile_app, headers, text):
    client = hostile_app.test_client()
    lookup = client.get("/api/v1/subscribers", query_string={"email": text}, headers=headers)
    signup = client.post("/api/v1/subscriptions", json={"email": text, "newsletters": [text]})
    archive = client.get("/archive/" + text.replace("/", "").replace("?", "").replace("#", ""))
    for response in (lookup, signup, archive):
        assert response.status_code < 500, (text, response.get_data()[:300])
    if "\x00" in text:
        assert lookup.status_code == 400 and signup.status_code == 400
    else:  # an address to look up, or none: the whole list, paged
        assert lookup.status_code == 200 and "next" in lookup.json
