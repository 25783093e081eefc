"""Admin API (bearer key): a reader's personal-data export and erasure (GDPR)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from service.extensions import db
from service.http.auth import operator, require_scope
from service.http.errors import api_error
from service.lists.subscribers import erase_subscriber, export_subscriber
from service.models import Subscriber

bp = Blueprint("admin_subscribers", __name__, url_prefix="/api/v1")


def _not_found(subscriber_id: int):
    db.session.rollback()
    return api_error(404, "not_found", f"No subscriber {subscriber_id}.")


@bp.get("/subscribers/<int:subscriber_id>/export")
@require_scope("read")
def export(subscriber_id: int):
    """Everything held about one reader, as JSON: profile, subscriptions, events, consent."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return _not_found(subscriber_id)
    data = export_subscriber(subscriber)
    db.session.commit()
    response = jsonify(data)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="subscriber-{subscriber_id}.json"'
    )
    return response


@bp.delete("/subscribers/<int:subscriber_id>")
@require_scope("write")
def erase(subscriber_id: int):
    """Erase a reader: personal data deleted, the address kept only as a suppression hash."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return _not_found(subscriber_id)
    erase_subscriber(subscriber, actor=operator())
    return jsonify(id=subscriber_id, status="erased")
