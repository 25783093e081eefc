"""`GET /openapi.json`: a valid OpenAPI 3 document of every route, generated from the code."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from service.http.auth import require_scope, required_scope
from service.http.contract import endpoint
from service.http.input_guard import MAX_ID
from service.http.openapi import SKIPPED_METHODS, openapi_paths
from tests.conftest import app_for, stack_env

CONTRACT_ENDPOINTS = [
    ("post", "/api/v1/subscriptions"),
    ("get", "/confirm/{token}"),
    ("post", "/confirm/{token}"),
    ("get", "/unsubscribe/{token}"),
    ("post", "/unsubscribe/{token}"),
    ("get", "/preferences/{token}"),
    ("get", "/embed.js"),
    ("get", "/forms/{slug}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("post", "/api/v1/articles"),
    ("get", "/api/v1/newsletters"),
    ("post", "/api/v1/newsletters"),
    ("patch", "/api/v1/newsletters/{slug}"),
    ("post", "/api/v1/newsletters/{slug}/sends"),
    ("get", "/api/v1/sends/{send_id}"),
    ("post", "/api/v1/sends/{send_id}/pause"),
    ("post", "/api/v1/sends/{send_id}/resume"),
    ("post", "/api/v1/sends/{send_id}/cancel"),
    ("get", "/api/v1/subscribers"),
    ("get", "/api/v1/subscribers/{subscriber_id}/export"),
    ("delete", "/api/v1/subscribers/{subscriber_id}"),
    ("get", "/openapi.json"),
]
PUBLIC_PATHS = ("/healthz", "/readyz", "/openapi.json", "/api/v1/")
PUBLIC_PREFIXES = ("/api/v1/subscriptions", "/confirm", "/unsubscribe", "/preferences", "/embed")


@pytest.fixture
def document(sqlite_app):
    response = sqlite_app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def test_document_is_valid_openapi_3(document):
    assert document["openapi"].startswith("3.")
    validate(document)


def test_every_route_is_documented(sqlite_app, document):
    """Every route but the static files, the demo and the staff console's pages (a browser's
    session pages, not the API: README "The staff console")."""
    for rule in sqlite_app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith(("demo.", "console.")):
            continue
        for path, _ in openapi_paths(rule.rule):
            for method in rule.methods - SKIPPED_METHODS:
                assert method.lower() in document["paths"].get(path, {}), (method, rule.rule)


@pytest.mark.parametrize(("method", "path"), CONTRACT_ENDPOINTS)
def test_contract_endpoints_are_documented(document, method, path):
    """Fails until every endpoint of CONTRACT sections 3 and 4 exists in the code."""
    assert method in document["paths"].get(path, {}), f"{method.upper()} {path} missing"


def test_admin_endpoints_need_bearer_and_public_ones_do_not(document):
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            secured = operation.get("security") == [{"bearer": []}]
            if path.startswith(PUBLIC_PREFIXES) or path in PUBLIC_PATHS:
                assert not secured, (method, path)
            elif path.startswith("/api/v1/"):
                assert secured, (method, path)
                assert "401" in operation["responses"]


def test_bodies_and_summaries_come_from_the_models_and_docstrings(document):
    create = document["paths"]["/api/v1/newsletters"]["post"]
    assert create["summary"].startswith("Create a newsletter")
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/NewsletterCreate"}
    assert "201" in create["responses"]
    signup = document["paths"]["/api/v1/subscriptions"]["post"]
    assert signup["responses"]["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SignupAccepted"
    }
    export = document["paths"]["/api/v1/subscribers/{subscriber_id}/export"]["get"]
    assert export["parameters"] == [
        {
            "name": "subscriber_id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
        }
    ]


def test_a_new_route_appears_without_editing_the_generator(tmp_path, redis_server):
    env = stack_env(f"sqlite:///{tmp_path / 'o.db'}", f"{redis_server.url}/3",
                    f"{redis_server.url}/0", "memory://", tmp_path)  # fmt: skip
    app = app_for(env)

    @app.route("/api/v1/widgets/<int:widget_id>", methods=["PUT"])
    @endpoint("write", answers={204: None})
    def put_widget(widget_id: int):
        """Replace a widget.

        Longer explanation.
        """
        return ""

    document = app.test_client().get("/openapi.json").json
    operation = document["paths"]["/api/v1/widgets/{widget_id}"]["put"]
    assert operation["summary"] == "Replace a widget."
    assert operation["description"].startswith("Longer explanation.\n\n")
    assert "scope `write`" in operation["description"]
    assert operation["security"] == [{"bearer": []}]
    assert operation["x-required-scope"] == "write"
    assert "403" in operation["responses"]
    validate(document)


def test_the_required_scope_is_seen_through_other_decorators():
    @require_scope("send")
    def view():
        """A view."""

    def outer(function):
        def wrapper():
            return function()

        wrapper.__wrapped__ = function
        return wrapper

    assert required_scope(view) == "send" and required_scope(outer(view)) == "send"
    assert required_scope(lambda: None) is None


def test_any_converter_becomes_one_path_per_choice():
    paths = openapi_paths("/sends/<int:send_id>/<any(pause, resume, 'cancel'):action>")
    assert [p for p, _ in paths] == [
        "/sends/{send_id}/pause",
        "/sends/{send_id}/resume",
        "/sends/{send_id}/cancel",
    ]
    assert paths[0][1] == ["send_id"]


def test_api_index_is_public_json_linking_the_document_and_collections(sqlite_app, document):
    response = sqlite_app.test_client().get("/api/v1/")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json["openapi"] == "/openapi.json"
    links = response.json["links"]
    assert {"subscriptions", "newsletters", "articles", "subscribers"} <= set(links)
    for link in links.values():
        assert link["href"].startswith("/api/v1/") and link["href"] != "/api/v1/"
        assert link["href"] in document["paths"]
    assert "security" not in document["paths"]["/api/v1/"]["get"]


def test_the_document_states_what_the_code_answers(document):
    paths = document["paths"]
    signup = paths["/api/v1/subscriptions"]["post"]
    assert set(signup["responses"]["202"]["content"]) == {"application/json", "text/html"}
    assert signup["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert "application/x-www-form-urlencoded" in signup["requestBody"]["content"]
    assert "413" in signup["responses"]
    articles = paths["/api/v1/articles"]["post"]
    schema = articles["requestBody"]["content"]["application/json"]["schema"]
    assert [f.get("type") for f in schema["oneOf"]] == [None, "array"]
    assert schema["oneOf"][0] == {"$ref": "#/components/schemas/Article"}
    assert document["components"]["schemas"]["Article"]["properties"]["title"]["minLength"] == 1
    assert "202" in paths["/api/v1/digest-preview/{slug}/test"]["post"]["responses"]
    sends = paths["/api/v1/newsletters/{slug}/sends"]["post"]["responses"]
    assert "send_in_progress" in sends["409"]["description"]
    assert "WWW-Authenticate" in paths["/api/v1/newsletters"]["get"]["responses"]["401"]["headers"]
    for page in ("/confirm/{token}", "/unsubscribe/{token}", "/preferences/{token}"):
        assert "text/html" in paths[page]["get"]["responses"]["200"]["content"]


def test_every_link_leads_to_an_operation_of_the_document(document):
    operations = {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for method, operation in item.items()
        if method != "parameters"
    }
    links = [
        link
        for operation in operations.values()
        for answer in operation["responses"].values()
        for link in answer.get("links", {}).values()
    ]
    assert len(links) >= 8
    preview = operations["articles.digest_preview.get"]
    assert {"locale", "format"} <= {p["name"] for p in preview["parameters"]}
    assert "articles.digest_preview.get" in {link["operationId"] for link in links}
    for link in links:
        assert link["operationId"] in operations, link
