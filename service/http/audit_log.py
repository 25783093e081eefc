"""Admin API (`admin` keys): the audit log of operator actions, newest first (`/api/v1/audit`)."""

from __future__ import annotations

from flask import Blueprint

from service import audit
from service.extensions import db
from service.http.contract import endpoint
from service.http.errors import api_error
from service.http.schemas.common import PageQuery
from service.http.schemas.keys import AuditEvent, AuditLog
from service.paging import BadPage, decode_cursor, page_of

bp = Blueprint("audit", __name__, url_prefix="/api/v1")


@bp.get("/audit")
@endpoint(
    "admin",
    query=PageQuery,
    answers={200: AuditLog},
    errors={422: "`invalid`: `limit` or `cursor` (named in `field`)"},
)
def list_events(query: PageQuery):
    """Operator actions, newest first: who (key name or CLI user), what, when, on what.

    Paged: `limit` and the `cursor` of the previous answer's `next`; events written between
    pages never shift the pages still to come.
    """
    try:
        before = decode_cursor(query.cursor, int)
    except BadPage as exc:
        return api_error(422, "invalid", str(exc), exc.field)
    rows = audit.events_before(before[0] if before else None, query.limit + 1)
    shown, cursor = page_of(rows, query.limit, lambda row: (row.id,))
    body = AuditLog(events=[AuditEvent.model_validate(row) for row in shown], next=cursor)
    db.session.commit()
    return body
