"""The API's front door (`GET /api/v1/`, public): where the document, the docs and the main
collections are. The admin collections live beside it, one blueprint per collection."""

from __future__ import annotations

from flask import Blueprint, url_for

from service.http.contract import PUBLIC, endpoint
from service.http.schemas.public import ApiIndex

bp = Blueprint("admin", __name__, url_prefix="/api/v1")

COLLECTIONS = {
    "subscriptions": ("public.create_subscription", "none", "sign a reader up (POST)"),
    "newsletters": ("admin_newsletters.index", "bearer", "list, create and update newsletters"),
    "articles": (
        "articles.list_articles",
        "bearer",
        "list articles, newest first (?section, published_after, published_before), paged; "
        "create or update them (POST)",
    ),
    "subscribers": (
        "admin_subscribers.list_subscribers",
        "bearer",
        "list readers, filtered (?newsletter, status, source, created_after, created_before, "
        "email, email_prefix) and paged",
    ),
    "sends": ("sends.list_sends", "bearer", "list sends, newest first (?newsletter, status)"),
    "api-keys": ("api_keys.list_keys", "bearer", "list, create and revoke API keys (admin)"),
    "audit": ("audit.list_events", "bearer", "operator actions, newest first (admin)"),
    "webhooks": ("webhooks.list_webhooks", "bearer", "signed events out: add, list, remove"),
}


@bp.get("/")
@endpoint(PUBLIC, answers={200: ApiIndex})
def api_index():
    """The API's index: where its OpenAPI document and main collections are. Public."""
    links = {
        name: {"href": url_for(endpoint), "auth": auth, "description": what}
        for name, (endpoint, auth, what) in COLLECTIONS.items()
    }
    return ApiIndex.model_validate(
        {
            "service": "newsletter-service",
            "version": "v1",
            "openapi": url_for("openapi.document"),
            "docs": url_for("api_docs.page"),
            "authentication": "admin collections need 'Authorization: Bearer <api key>' "
            "(newsletter api-keys create NAME --scope read|write|send|admin); a key without "
            "the scope an endpoint needs answers 403 insufficient_scope",
            "links": links,
        }
    )
