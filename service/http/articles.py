"""Admin API for articles: `POST /api/v1/articles` (one or a list), digest preview and test send."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from service.addresses import InvalidEmail
from service.digests.articles import ArticleError, upsert_article, upsert_articles
from service.digests.compose import (
    compose_report,
    render_sample,
    request_test_digest,
    test_content,
)
from service.extensions import db
from service.http.auth import require_scope
from service.http.errors import api_error
from service.http.locale_guard import unknown_locale
from service.i18n import UnknownLocale
from service.models import Newsletter

bp = Blueprint("articles", __name__, url_prefix="/api/v1")

BATCH_MAX = 500


@bp.post("/articles")
@require_scope("write")
def post_articles():
    """Create or update articles by URL: 201 if any was created, else 200.

    One object answers `{"id", "url", "status"}`; a list answers `{"results": [...]}` with one
    entry per item (`created`, `updated` or `error` with `field` and `message`).
    """
    data = request.get_json(silent=True)
    if isinstance(data, list):
        if len(data) > BATCH_MAX:
            return api_error(413, "too_large", f"at most {BATCH_MAX} articles per request")
        results = upsert_articles(data)
        body = {
            "results": [r.as_dict() for r in results],
            "created": sum(r.status == "created" for r in results),
            "updated": sum(r.status == "updated" for r in results),
            "errors": sum(r.status == "error" for r in results),
        }
        return jsonify(body), 201 if body["created"] else 200
    if not isinstance(data, dict):
        return api_error(400, "bad_request", "body must be a JSON object or a list of objects")
    try:
        article, created = upsert_article(data)
    except ArticleError as exc:
        db.session.rollback()
        return api_error(422, "invalid_article", exc.message, field=exc.field)
    body = {"id": article.id, "url": article.url, "status": "created" if created else "updated"}
    return jsonify(body), 201 if created else 200


def _newsletter(slug: str) -> Newsletter | None:
    return db.session.scalar(select(Newsletter).where(Newsletter.slug == slug))


NO_ARTICLES = "too few new articles: this digest would be skipped"
NO_TEST = "nothing to test: no new articles and no issue sent yet"
PREVIEW_FORMATS = ("html", "text")


def _asked_locale(values: Mapping[str, Any]) -> Any:
    """The `locale` staff asked for; English when none (absent, null or empty)."""
    locale = values.get("locale")
    return "en" if locale is None or locale == "" else locale


@bp.post("/digest-preview/<slug>/test")
@require_scope("send")
def digest_test(slug: str):
    """Mail a test of the digest `slug` would send now to `{"email"}`: 202 `{"job_id"}`."""
    newsletter = _newsletter(slug)
    if newsletter is None:
        return api_error(404, "not_found", "no such newsletter")
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("email"), str):
        return api_error(422, "required", "email is required", field="email")
    if test_content(newsletter) is None:  # else the next digest or the last issue
        return api_error(409, "no_articles", NO_TEST)
    try:
        job_id = request_test_digest(newsletter, data["email"], locale=_asked_locale(data))
    except InvalidEmail as exc:
        return api_error(422, "invalid_email", str(exc), field="email")
    except UnknownLocale as exc:
        return unknown_locale(exc)
    return jsonify(status="queued", job_id=job_id), 202


@bp.get("/digest-preview/<slug>")
@require_scope("read")
def digest_preview(slug: str):
    """Staff preview: the digest `slug` would send now, as HTML (`?format=text` for the text part).

    `?locale=` picks the language (`en` by default; one with no catalogue is a 422).
    """
    newsletter = _newsletter(slug)
    if newsletter is None:
        return api_error(404, "not_found", "no such newsletter")
    kind = request.args.get("format") or "html"
    if kind not in PREVIEW_FORMATS:
        return api_error(422, "invalid", "format: html or text", field="format")
    content, selection = compose_report(newsletter)
    skipped = dict(selection.skipped)
    if content is None:
        return api_error(404, "no_articles", NO_ARTICLES, skipped=skipped)
    try:
        rendered = render_sample(content, newsletter, _asked_locale(request.args))
    except UnknownLocale as exc:
        return unknown_locale(exc)
    kind = "text/plain" if kind == "text" else "text/html"
    response = Response(rendered.text if kind == "text/plain" else rendered.html, mimetype=kind)
    if skipped:  # what the digest left out and why, e.g. "1 article(s) skipped: 1 published ..."
        response.headers["Digest-Skipped"] = selection.skipped_text()
    return response
