"""The API's front door (`GET /api/v1/`, public) and the admin list of readers (bearer key).

Further admin endpoints live beside it, one blueprint per collection.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from service.extensions import db
from service.http.auth import require_scope
from service.http.errors import api_error
from service.lists.browse import FilterInvalid, browse_readers, reader_filter
from service.models import Subscriber
from service.paging import BadPage, decode_cursor, page_of, parse_limit

bp = Blueprint("admin", __name__, url_prefix="/api/v1")


def subscriber_json(subscriber: Subscriber) -> dict:
    """A subscriber and the status of each of their subscriptions."""
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "name": subscriber.name,
        "locale": subscriber.locale,
        "created_at": subscriber.created_at.isoformat(),
        "subscriptions": [
            {
                "newsletter": s.newsletter.slug,
                "status": s.status,
                "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None,
            }
            for s in subscriber.subscriptions
        ],
    }


COLLECTIONS = {
    "subscriptions": ("public.create_subscription", "none", "sign a reader up (POST)"),
    "newsletters": ("admin_newsletters.index", "bearer", "list, create and update newsletters"),
    "articles": ("articles.post_articles", "bearer", "create or update articles (POST)"),
    "subscribers": (
        "admin.list_subscribers",
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
def api_index():
    """The API's index: where its OpenAPI document and main collections are. Public."""
    links = {
        name: {"href": url_for(endpoint), "auth": auth, "description": what}
        for name, (endpoint, auth, what) in COLLECTIONS.items()
    }
    return jsonify(
        service="newsletter-service",
        version="v1",
        openapi=url_for("openapi.document"),
        docs=url_for("api_docs.page"),
        authentication="admin collections need 'Authorization: Bearer <api key>' "
        "(newsletter api-keys create NAME --scope read|write|send|admin); a key without the "
        "scope an endpoint needs answers 403 insufficient_scope",
        links=links,
    )


@bp.get("/subscribers")
@require_scope("read")
def list_subscribers():
    """List readers by id, filtered: `newsletter`, `status`, `source`, `created_after`,
    `created_before`, `email` (an exact address, any case) or `email_prefix`.

    `status` alone matches a reader with any subscription in it, with `newsletter` that one;
    `source` is `import` or the name of the form they signed up on. Paged: `limit` (1-500,
    default 50) and the `cursor` of the previous answer's `next`.
    """
    try:
        limit = parse_limit(request.args.get("limit"))
        after = decode_cursor(request.args.get("cursor"), int)
        wanted = reader_filter(request.args)
    except (BadPage, FilterInvalid) as exc:
        db.session.rollback()
        return api_error(422, "invalid", str(exc), exc.field)
    rows = browse_readers(wanted, after[0] if after else 0, limit + 1)
    shown, cursor = page_of(rows, limit, lambda reader: (reader.id,))
    body = {"subscribers": [subscriber_json(s) for s in shown], "next": cursor}
    db.session.commit()
    return jsonify(body)
