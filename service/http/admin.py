"""Admin API (bearer key): subscriber lookup. Further admin endpoints live beside it."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from service.auth import require_api_key
from service.extensions import db
from service.http.errors import api_error
from service.models import Subscriber
from service.validation import InvalidEmail, parse_address

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
