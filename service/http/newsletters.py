"""Admin API (bearer key): list, create, update and delete newsletters."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from service.extensions import db
from service.http.auth import operator, require_scope
from service.http.errors import api_error
from service.lists.newsletters import (
    NewsletterExists,
    NewsletterInvalid,
    create_newsletter,
    get_newsletter,
    list_newsletters,
    newsletter_json,
    update_newsletter,
)
from service.lists.retire import NewsletterInUse, delete_newsletter

bp = Blueprint("admin_newsletters", __name__, url_prefix="/api/v1")


def _json_object() -> dict[str, Any] | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def _invalid(exc: NewsletterInvalid):
    db.session.rollback()
    return api_error(422, exc.code, exc.message, exc.field)


def _bad_json():
    return api_error(400, "bad_request", "The body must be a JSON object.")


@bp.get("/newsletters")
@require_scope("read")
def index():
    """List every newsletter with its schedule and digest settings."""
    newsletters = [newsletter_json(n) for n in list_newsletters()]
    db.session.commit()
    return jsonify(newsletters=newsletters)


@bp.post("/newsletters")
@require_scope("write")
def create():
    """Create a newsletter: `slug` and `name` required; 201, or 409 if the slug is taken."""
    data = _json_object()
    if data is None:
        return _bad_json()
    fields = {key: value for key, value in data.items() if key != "slug"}
    try:
        newsletter = create_newsletter(data.get("slug"), fields, actor=operator())
    except NewsletterInvalid as exc:
        return _invalid(exc)
    except NewsletterExists:
        db.session.rollback()
        return api_error(409, "conflict", "A newsletter with this slug exists.", "slug")
    response = jsonify(newsletter_json(newsletter))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/newsletters/{newsletter.slug}"
    return response


@bp.patch("/newsletters/<slug>")
@require_scope("write")
def update(slug: str):
    """Change any field: name, schedule, sections, tags, feed_url, is_public, archived, ..."""
    newsletter = get_newsletter(slug)
    if newsletter is None:
        db.session.rollback()
        return api_error(404, "not_found", f"No newsletter {slug!r}.")
    data = _json_object()
    if data is None:
        return _bad_json()
    try:
        update_newsletter(newsletter, data, actor=operator())
    except NewsletterInvalid as exc:
        return _invalid(exc)
    return jsonify(newsletter_json(newsletter))


@bp.delete("/newsletters/<slug>")
@require_scope("write")
def remove(slug: str):
    """Delete a newsletter with no confirmed reader and no send that started: 204.

    Otherwise 409 `newsletter_in_use` (with `readers` and `sends`): archive it instead.
    """
    newsletter = get_newsletter(slug)
    if newsletter is None:
        db.session.rollback()
        return api_error(404, "not_found", f"No newsletter {slug!r}.")
    try:
        delete_newsletter(newsletter, actor=operator())
    except NewsletterInUse as exc:
        return api_error(409, "newsletter_in_use", str(exc), readers=exc.readers, sends=exc.sends)
    return "", 204
