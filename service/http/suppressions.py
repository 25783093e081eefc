"""Admin API: the suppression list, paged, and manual blocks added or lifted with a reason
(`/api/v1/suppressions`). Entries never show an address or its hash."""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from service.addresses import InvalidEmail, parse_address
from service.extensions import db
from service.http.auth import operator, require_scope
from service.http.errors import api_error
from service.leaving import suppression_list as entries
from service.paging import BadPage, decode_cursor, page_of, parse_limit

bp = Blueprint("suppressions", __name__, url_prefix="/api/v1")
ADDRESS_MAX = 320


def _email_key(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > ADDRESS_MAX:
        raise InvalidEmail("email must be an address of at most 320 characters.")
    try:
        return parse_address(value.strip(), allow_smtputf8=True).key
    except InvalidEmail as exc:
        raise InvalidEmail(f"email is not an acceptable address ({exc.reason}).") from None


@bp.get("/suppressions")
@require_scope("read")
def list_suppressions():
    """The suppression list, oldest first: id, reason, detail, whether it is hard, when.

    `email` narrows it to that address's entry (the way to check one address; addresses are
    kept only as hashes, so the list cannot show them). Paged: `limit` (1-500, default 50) and
    the `cursor` of the previous answer's `next`.
    """
    try:
        limit = parse_limit(request.args.get("limit"))
        after = decode_cursor(request.args.get("cursor"), int)
    except BadPage as exc:
        return api_error(422, "invalid", str(exc), exc.field)
    email_key = None
    if request.args.get("email") is not None:
        try:
            email_key = _email_key(request.args["email"])
        except InvalidEmail as exc:
            return api_error(422, "invalid_email", str(exc), "email")
    rows = entries.entries_after(after[0] if after else 0, limit + 1, email_key)
    shown, cursor = page_of(rows, limit, lambda row: (row.id,))
    body = {"suppressions": [entries.describe(row) for row in shown], "next": cursor}
    db.session.commit()
    return jsonify(body)


@bp.post("/suppressions")
@require_scope("write")
def add_suppression():
    """Block an address: `email`, `reason` (`manual`, or a category of your own: letters,
    digits, `_.-`), optional `detail` (a note, no personal data). Nothing is mailed to it any
    more, not even a confirmation; only the hash of the address is kept.

    An address already blocked answers 409 naming its entry, unless it was only
    `unsubscribe_all`, which the harder reason replaces.
    """
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return api_error(400, "bad_request", "The body must be a JSON object.")
    try:
        email_key = _email_key(data.get("email"))
    except InvalidEmail as exc:
        return api_error(422, "invalid_email", str(exc), "email")
    try:
        row, changed = entries.add_by_hand(
            email_key, data.get("reason"), data.get("detail"), operator()
        )
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
    response = jsonify(entries.describe(row))
    response.status_code = 201
    response.headers["Location"] = url_for("suppressions.remove_suppression", entry_id=row.id)
    return response


@bp.delete("/suppressions/<int:entry_id>")
@require_scope("write")
def remove_suppression(entry_id: int):
    """Lift a block: `reason` (why, one line, kept in the audit log) in the query or in a JSON
    body. The address can be mailed again; its subscriptions keep their status."""
    data = request.get_json(silent=True)
    why = request.args.get("reason")
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
    return jsonify(id=row.id, status="removed")
