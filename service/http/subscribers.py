"""Admin API (bearer key): a reader's personal-data export and erasure (GDPR)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from service.extensions import db
from service.http.auth import operator, require_scope
from service.http.errors import api_error
from service.lists.subscribers import erase_subscriber, export_subscriber
from service.lists.timeline import consent_state, timeline_page
from service.models import Subscriber
from service.paging import BadPage, decode_cursor, encode_cursor, parse_limit

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


@bp.get("/subscribers/<int:subscriber_id>/timeline")
@require_scope("read")
def timeline(subscriber_id: int):
    """A reader's history, newest first: subscription changes (signup, confirmation,
    unsubscribes, preference changes, bounces), consent records (form, IP, user agent) and
    deliveries from the send ledger; with `consent`, each subscription's consent state.

    Paged: `limit` (1-500, default 50) and the `cursor` of the previous answer's `next`.
    """
    try:
        limit = parse_limit(request.args.get("limit"))
        before = decode_cursor(request.args.get("cursor"), int, int, int)
    except BadPage as exc:
        return api_error(422, "invalid", str(exc), exc.field)
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return _not_found(subscriber_id)
    entries = timeline_page(subscriber, before, limit + 1)  # type: ignore[arg-type]
    shown = entries[:limit]
    body = {
        "id": subscriber.id,
        "consent": consent_state(subscriber),
        "events": [entry for _, entry in shown],
        "next": encode_cursor(*shown[-1][0]) if len(entries) > limit else None,
    }
    db.session.commit()
    return jsonify(body)


@bp.delete("/subscribers/<int:subscriber_id>")
@require_scope("write")
def erase(subscriber_id: int):
    """Erase a reader: personal data deleted, the address kept only as a suppression hash."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return _not_found(subscriber_id)
    erase_subscriber(subscriber, actor=operator())
    return jsonify(id=subscriber_id, status="erased")
