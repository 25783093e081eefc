"""Admin API (`admin` keys): list, create and revoke API keys (`/api/v1/api-keys`)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from service.access import keys
from service.extensions import db
from service.http.auth import operator, require_scope
from service.http.errors import api_error
from service.paging import BadPage, decode_cursor, page_of, parse_limit

bp = Blueprint("api_keys", __name__, url_prefix="/api/v1")


def bad_page(exc: BadPage):
    """422 for a `limit` or `cursor` a list cannot use."""
    return api_error(422, "invalid", str(exc), exc.field)


@bp.get("/api-keys")
@require_scope("admin")
def list_keys():
    """List the active API keys (name, prefix, scopes, created, last used; never the key).

    Paged: `limit` (1-500, default 50) and the `cursor` of the previous answer's `next`.
    """
    try:
        limit = parse_limit(request.args.get("limit"))
        after = decode_cursor(request.args.get("cursor"), int)
    except BadPage as exc:
        return bad_page(exc)
    rows = keys.list_api_keys(after_id=after[0] if after else 0, limit=limit + 1)
    shown, cursor = page_of(rows, limit, lambda k: (k.id,))
    body = {"api_keys": [keys.describe(k) for k in shown], "next": cursor}
    db.session.commit()
    return jsonify(body)


@bp.post("/api-keys")
@require_scope("admin")
def create_key():
    """Create a key: `name`, and `scopes` (read, write, send, admin; default admin).

    The answer holds the key itself, the only time it is shown; only its hash is kept.
    """
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return api_error(400, "bad_request", "The body must be a JSON object.")
    if "scopes" in data and data["scopes"] is None:
        return api_error(
            422, "invalid", "scopes must be a list (leave it out for admin).", "scopes"
        )
    try:
        key = keys.create_api_key(data.get("name"), data.get("scopes"), actor=operator())
    except keys.KeyInvalid as exc:
        db.session.rollback()
        return api_error(422, "invalid", str(exc), exc.field)
    except keys.KeyNameTaken as exc:
        db.session.rollback()
        return api_error(409, "conflict", str(exc), "name")
    created = keys.find_api_key(key)
    body = {**keys.describe(created), "key": key}
    db.session.commit()
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = url_for("api_keys.revoke_key", name=created.name)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/api-keys/<name>")
@require_scope("admin")
def revoke_key(name: str):
    """Revoke the active key `name`: its next request answers 401.

    A key cannot revoke itself (409 `own_key`), so a script that cleans up keys cannot lock
    itself out: revoke it with another admin key or `newsletter api-keys revoke NAME`.
    """
    if name == operator().name:
        return api_error(
            409,
            "own_key",
            "A key cannot revoke itself: use another admin key, or "
            f"`newsletter api-keys revoke {name}`.",
            "name",
        )
    try:
        revoked = keys.revoke_api_key(name, actor=operator())
    except keys.NoSuchKey as exc:
        db.session.rollback()
        return api_error(404, "not_found", str(exc), "name")
    return jsonify(name=revoked.name, status="revoked")
