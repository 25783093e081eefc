"""The API's front door (`GET /api/v1/`, public) and the admin subscriber lookup (bearer key).

Further admin endpoints live beside it, one blueprint per collection.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from sqlalchemy import select

from service.addresses import InvalidEmail, parse_address
from service.extensions import db
from service.http.auth import require_api_key
from service.http.errors import api_error
from service.models import Subscriber

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
    "subscribers": ("admin.list_subscribers", "bearer", "look a reader up by ?email="),
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
        authentication="admin collections need 'Authorization: Bearer <api key>' "
        "(newsletter api-keys create NAME)",
        links=links,
    )


@bp.get("/subscribers")
@require_api_key
def list_subscribers():
    """Look a subscriber up by address (`?email=`, required), compared case-insensitively."""
    email = (request.args.get("email") or "").strip()
    if not email:
        return api_error(
            422,
            "email_required",
            "Give ?email=<address> to look a reader up; a newsletter's whole list is "
            "`newsletter subscribers export --newsletter SLUG`.",
            "email",
        )
    try:
        key = parse_address(email, allow_smtputf8=True).key
    except InvalidEmail:
        key = email.lower()
    found = db.session.scalars(select(Subscriber).where(Subscriber.email_key == key)).all()
    db.session.commit()
    return jsonify(subscribers=[subscriber_json(s) for s in found])
