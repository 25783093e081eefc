"""Admin API (`admin` keys): list, create and revoke API keys (`/api/v1/api-keys`)."""

from __future__ import annotations

from flask import Blueprint, url_for

from service.access import keys
from service.extensions import db
from service.http.auth import operator
from service.http.contract import endpoint
from service.http.errors import api_error
from service.http.schemas.common import PageQuery
from service.http.schemas.keys import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    KeyPath,
    Revoked,
)
from service.paging import BadPage, decode_cursor, page_of

bp = Blueprint("api_keys", __name__, url_prefix="/api/v1")
PAGE_INVALID = "`invalid`: `limit` or `cursor` (named in `field`)"


def bad_page(exc: BadPage):
    """422 for a `limit` or `cursor` a list cannot use."""
    return api_error(422, "invalid", str(exc), exc.field)


@bp.get("/api-keys")
@endpoint("admin", query=PageQuery, answers={200: ApiKeyList}, errors={422: PAGE_INVALID})
def list_keys(query: PageQuery):
    """List the active API keys (name, prefix, scopes, created, last used; never the key).

    Paged: `limit` and the `cursor` of the previous answer's `next`.
    """
    try:
        after = decode_cursor(query.cursor, int)
    except BadPage as exc:
        return bad_page(exc)
    rows = keys.list_api_keys(after_id=after[0] if after else 0, limit=query.limit + 1)
    shown, cursor = page_of(rows, query.limit, lambda k: (k.id,))
    body = ApiKeyList(api_keys=[ApiKey.of(k) for k in shown], next=cursor)
    db.session.commit()
    return body


@bp.post("/api-keys")
@endpoint(
    "admin",
    body=ApiKeyCreate,
    answers={201: ApiKeyCreated},
    errors={
        409: "`conflict`: an active key has this name",
        422: "`invalid`: `name` or `scopes` (named in `field`)",
    },
    links={201: {"RevokeKey": ("api_keys.revoke_key.delete", {"name": "$response.body#/name"})}},
)
def create_key(body: ApiKeyCreate):
    """Create a key: `name`, and `scopes` (read, write, send, admin; default admin).

    The answer holds the key itself, the only time it is shown; only its hash is kept.
    """
    try:
        key = keys.create_api_key(body.name, body.scopes, actor=operator())
    except keys.KeyInvalid as exc:
        db.session.rollback()
        return api_error(422, "invalid", str(exc), exc.field)
    except keys.KeyNameTaken as exc:
        db.session.rollback()
        return api_error(409, "conflict", str(exc), "name")
    created = keys.find_api_key(key)
    shown = ApiKeyCreated.model_validate({**ApiKey.of(created).model_dump(), "key": key})
    db.session.commit()
    where = url_for("api_keys.revoke_key", name=created.name)
    return shown, 201, {"Location": where, "Cache-Control": "no-store"}


@bp.delete("/api-keys/<name>")
@endpoint(
    "admin",
    path=KeyPath,
    answers={200: Revoked},
    errors={
        404: "no active key has this name",
        409: "`own_key`: the key making the request cannot revoke itself",
    },
)
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
    return Revoked(name=revoked.name, status="revoked")
