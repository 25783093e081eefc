"""`GET /api/v1/`: where the admin API starts, for a person or a client finding its way.

Public and free of data: it names the document and the main collections, nothing more.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

bp = Blueprint("api_index", __name__, url_prefix="/api/v1")

COLLECTIONS = {
    "newsletters": "/api/v1/newsletters",
    "articles": "/api/v1/articles",
    "subscribers": "/api/v1/subscribers?email={address}",
    "sends": "/api/v1/newsletters/{slug}/sends",
    "subscriptions": "/api/v1/subscriptions",
}


@bp.get("/")
def index():
    """The API's entry point: links to the OpenAPI document and the main collections."""
    return jsonify(
        name="newsletter-service admin API",
        openapi="/openapi.json",
        authentication=(
            "Authorization: Bearer <key> on every admin endpoint; create a key with "
            "`newsletter api-keys create NAME`. POST /api/v1/subscriptions is public."
        ),
        links=COLLECTIONS,
    )
