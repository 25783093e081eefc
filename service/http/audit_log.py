"""Admin API (`admin` keys): the audit log of operator actions, newest first (`/api/v1/audit`)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from service import audit
from service.extensions import db
from service.http.auth import require_scope
from service.http.errors import api_error
from service.paging import BadPage, decode_cursor, page_of, parse_limit

bp = Blueprint("audit", __name__, url_prefix="/api/v1")


@bp.get("/audit")
@require_scope("admin")
def list_events():
    """Operator actions, newest first: who (key name or CLI user), what, when, on what.

    Paged: `limit` (1-500, default 50) and the `cursor` of the previous answer's `next`;
    events written between pages never shift the pages still to come.
    """
    try:
        limit = parse_limit(request.args.get("limit"))
        before = decode_cursor(request.args.get("cursor"), int)
    except BadPage as exc:
        return api_error(422, "invalid", str(exc), exc.field)
    rows = audit.events_before(before[0] if before else None, limit + 1)
    shown, cursor = page_of(rows, limit, lambda row: (row.id,))
    body = {"events": [audit.describe(row) for row in shown], "next": cursor}
    db.session.commit()
    return jsonify(body)
