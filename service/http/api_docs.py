"""`GET /docs`: the interactive API documentation (Swagger UI on `/openapi.json`).

Swagger UI is vendored under `static/vendor/swagger-ui/` (see its README) and started by our
own `static/api-docs.js`, so the page runs under the page policy's Content-Security-Policy
with no inline script and loads nothing from another origin. "Authorize" takes an API key
(the document's `bearer` scheme); the key stays in the tab and goes only to this origin.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, url_for

from service.http.contract import hosted

bp = Blueprint("api_docs", __name__)


@bp.get("/docs")
@hosted()
def page() -> Response:
    """The interactive documentation of the API: try every endpoint with an API key."""
    body = render_template("pages/api_docs.html", spec_url=url_for("openapi.document"))
    return Response(body, mimetype="text/html")
