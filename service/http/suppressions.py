"""Admin API: the suppression list, paged, and manual blocks added or lifted with a reason
(`/api/v1/suppressions`). Entries never show an address or its hash."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from service.addresses import InvalidEmail, parse_address
from service.extensions import db
from service.http.auth import operator
from service.http.contract import endpoint
from service.http.errors import api_error
from service.http.schemas.suppressions import (
    EntryPath,
    Lifted,
    LiftQuery,
    Suppression,
    SuppressionCreate,
    SuppressionList,
    SuppressionQuery,
)
from service.leaving import suppression_list as entries
from service.paging import BadPage, decode_cursor, page_of

bp = Blueprint("suppressions", __name__, url_prefix="/api/v1")


def _email_key(value: str) -> str:
    try:
        return parse_address(value.strip(), allow_smtputf8=True).key
    except InvalidEmail as exc:
        raise InvalidEmail(f"email is not an acceptable address ({exc.reason}).") from None


@bp.get("/suppressions")
@endpoint(
    "read",
    query=SuppressionQuery,
    answers={200: SuppressionList},
    errors={422: "`invalid`: `limit` or `cursor` (named in `field`); `invalid_email`"},
)
def list_suppressions(query: SuppressionQuery):
    """The suppression list, oldest first: id, reason, detail, whether it is hard, when.

    `email` narrows it to that address's entry (the way to check one address; addresses are
    kept only as hashes, so the list cannot show them). Paged: `limit` and the `cursor` of
    the previous answer's `next`.
    """
    try:
        after = decode_cursor(query.cursor, int)
    except BadPage as exc:
        return api_error(422, "invalid", str(exc), exc.field)
    email_key = None
    if query.email is not None:
        try:
            email_key = _email_key(query.email)
        except InvalidEmail as exc:
            return api_error(422, "invalid_email", str(exc), "email")
    rows = entries.entries_after(after[0] if after else 0, query.limit + 1, email_key)
    shown, cursor = page_of(rows, query.limit, lambda row: (row.id,))
    body = SuppressionList(suppressions=[Suppression.of(row) for row in shown], next=cursor)
    db.session.commit()
    return body


@bp.post("/suppressions")
@endpoint(
    "write",
    body=SuppressionCreate,
    answers={201: Suppression},
    errors={
        409: "`conflict`: the address is already suppressed (its entry's `id`)",
        422: "`invalid_email`, or `invalid`: `reason` or `detail` (named in `field`)",
    },
    links={
        201: {
            "RemoveSuppression": (
                "suppressions.remove_suppression.delete",
                {"entry_id": "$response.body#/id"},
            )
        }
    },
)
def add_suppression(body: SuppressionCreate):
    """Block an address: `email`, `reason` (`manual`, or a category of your own: letters,
    digits, `_.-`), optional `detail` (a note, no personal data). Nothing is mailed to it any
    more, not even a confirmation; only the hash of the address is kept.

    An address already blocked answers 409 naming its entry, unless it was only
    `unsubscribe_all`, which the harder reason replaces.
    """
    try:
        email_key = _email_key(body.email)
    except InvalidEmail as exc:
        return api_error(422, "invalid_email", str(exc), "email")
    try:
        row, changed = entries.add_by_hand(email_key, body.reason, body.detail, operator())
    except entries.SuppressionInvalid as exc:
        db.session.rollback()
        return api_error(422, "invalid", str(exc), exc.field)
    if not changed:
        return api_error(
            409,
            "conflict",
            f"This address is already suppressed (entry {row.id}, {row.reason}).",
            "email",
            id=row.id,
        )
    where = url_for("suppressions.remove_suppression", entry_id=row.id)
    return Suppression.of(row), 201, {"Location": where}


@bp.delete("/suppressions/<int:entry_id>")
@endpoint(
    "write",
    path=EntryPath,
    query=LiftQuery,
    answers={200: Lifted},
    errors={404: "no such entry", 422: "`invalid`: `reason` is missing or not one line"},
)
def remove_suppression(entry_id: int, query: LiftQuery):
    """Lift a block: `reason` (why, one line, kept in the audit log) in the query or in a JSON
    body. The address can be mailed again; its subscriptions keep their status."""
    data = request.get_json(silent=True)
    why = query.reason
    if why is None and isinstance(data, dict):
        why = data.get("reason")
    try:
        row = entries.remove_by_hand(entry_id, why, operator())
    except entries.SuppressionInvalid as exc:
        db.session.rollback()
        return api_error(422, "invalid", str(exc), exc.field)
    except entries.NoSuchSuppression as exc:
        db.session.rollback()
        return api_error(404, "not_found", str(exc))
    return Lifted(id=row.id, status="removed")
