"""`GET /docs` (issue 22): the Swagger UI page answers 200 under the page policy with no inline
script; everything it loads (the vendored Swagger UI, our start-up script, the OpenAPI document)
comes from our own origin; the document offers "Authorize" (a bearer scheme); the API index
links the page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from lxml import html as lxml_html

from service.config import ROOT

VENDOR = ROOT / "service" / "static" / "vendor" / "swagger-ui"
TYPES = {".js": "text/javascript", ".css": "text/css"}


def _directives(policy: str) -> dict[str, str]:
    parts = (d.strip().split(None, 1) for d in policy.split(";") if d.strip())
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts}


@pytest.fixture
def docs(unit_app):
    response = unit_app.test_client().get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return response


def test_the_page_holds_the_security_headers(docs):
    assert docs.headers["X-Content-Type-Options"] == "nosniff"
    assert docs.headers["Referrer-Policy"] == "same-origin"
    assert docs.headers["X-Frame-Options"] == "DENY"
    policy = _directives(docs.headers["Content-Security-Policy"])
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval, no CDN
    assert policy["connect-src"] == "'self'"  # "Try it out" calls this origin only
    assert policy["frame-ancestors"] == "'none'"


def test_the_page_has_no_inline_script(docs):
    tree = lxml_html.fromstring(docs.get_data(as_text=True))
    scripts = tree.xpath("//script")
    assert scripts, "no script: Swagger UI would not start"
    for script in scripts:
        assert script.get("src"), "an inline script breaks the page's CSP"
        assert not (script.text or "").strip()
    handlers = [a for el in tree.iter() for a in el.attrib if a.lower().startswith("on")]
    assert handlers == []
    assert "javascript:" not in docs.get_data(as_text=True)


def test_every_asset_comes_from_our_origin(unit_app, docs):
    client = unit_app.test_client()
    tree = lxml_html.fromstring(docs.get_data(as_text=True))
    assets = tree.xpath("//script/@src") + tree.xpath("//link[@rel='stylesheet']/@href")
    assert len(assets) == 3  # the bundle, our start-up script, the stylesheet
    for asset in assets:
        parts = urlsplit(asset)
        assert not parts.scheme and not parts.netloc and asset.startswith("/"), asset
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert answer.mimetype == TYPES[parts.path[parts.path.rfind(".") :]], asset
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        answer.close()
    icons = tree.xpath("//link[@rel='icon']/@href")
    assert icons == ["data:,"]  # no /favicon.ico request to answer 404


def test_the_page_points_swagger_ui_at_our_document(unit_app, docs):
    tree = lxml_html.fromstring(docs.get_data(as_text=True))
    (root,) = tree.xpath("//*[@id='swagger-ui']")
    assert root.get("data-spec-url") == "/openapi.json"
    document = unit_app.test_client().get(root.get("data-spec-url")).json
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert document["paths"]["/api/v1/newsletters"]["get"]["security"] == [{"bearer": []}]
    assert "servers" not in document  # Swagger UI calls the origin it read the document from


def test_the_vendored_swagger_ui_is_whole_and_licensed():
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    assert "swagger-ui-dist 5.36.0" in readme and "npm pack" in readme
    assert "Apache License" in (VENDOR / "LICENSE").read_text(encoding="utf-8")
    assert "SwaggerUIBundle" in (VENDOR / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    start = (ROOT / "service" / "static" / "api-docs.js").read_text(encoding="utf-8")
    assert "validatorUrl: null" in start  # never a request to validator.swagger.io
    assert "persistAuthorization: false" in start  # the key is not kept in localStorage


def test_the_api_index_links_the_docs(unit_app):
    index = unit_app.test_client().get("/api/v1/").json
    assert index["docs"] == "/docs"
