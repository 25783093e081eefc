"""Admin API for articles: `POST /api/v1/articles` (one or a list), the paged list, digest
preview and test send."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import select

from service.addresses import InvalidEmail
from service.digests import article_list
from service.digests.articles import ArticleError, upsert_article, upsert_articles
from service.digests.compose import (
    compose_report,
    render_sample,
    request_test_digest,
    test_content,
)
from service.extensions import db
from service.http.contract import endpoint
from service.http.errors import api_error
from service.http.locale_guard import unknown_locale
from service.http.schemas.articles import (
    BATCH_MAX,
    Article,
    ArticleBatch,
    ArticleBatchRequest,
    ArticleList,
    ArticleQuery,
    ArticleResult,
    ArticleSaved,
    PreviewQuery,
    TestSendQueued,
    TestSendRequest,
)
from service.http.schemas.common import SlugPath
from service.i18n import UnknownLocale
from service.lists.browse import FilterInvalid
from service.models import Newsletter
from service.paging import BadPage, decode_cursor, page_of

bp = Blueprint("articles", __name__, url_prefix="/api/v1")


@bp.post("/articles")
@endpoint(
    "write",
    body=(Article, ArticleBatchRequest),
    answers={201: ArticleSaved | ArticleBatch, 200: ArticleSaved | ArticleBatch},
    errors={
        413: f"`too_large`: more than {BATCH_MAX} articles",
        422: "`invalid_article`, naming the `field`",
    },
)
def post_articles(body: Article | list):
    """Create or update articles by URL: 201 if any was created, else 200.

    One object answers `{"id", "url", "status"}`; a list answers `{"results": [...]}` with one
    entry per item (`created`, `updated` or `error` with `field` and `message`).
    """
    if isinstance(body, list):
        if len(body) > BATCH_MAX:
            return api_error(413, "too_large", f"at most {BATCH_MAX} articles per request")
        results = upsert_articles(body)
        batch = ArticleBatch(
            results=[ArticleResult.model_validate(r.as_dict()) for r in results],
            created=sum(r.status == "created" for r in results),
            updated=sum(r.status == "updated" for r in results),
            errors=sum(r.status == "error" for r in results),
        )
        return batch, 201 if batch.created else 200
    try:
        article, created = upsert_article(body.model_dump(exclude_unset=True))
    except ArticleError as exc:
        db.session.rollback()
        return api_error(422, "invalid_article", exc.message, field=exc.field)
    saved = ArticleSaved(id=article.id, url=article.url, status="created" if created else "updated")
    return saved, 201 if created else 200


@bp.get("/articles")
@endpoint(
    "read",
    query=ArticleQuery,
    answers={200: ArticleList},
    errors={422: "`invalid`: a filter, `limit` or `cursor` (named in `field`)"},
)
def list_articles(query: ArticleQuery):
    """List articles, newest published first: `section` (exact), `published_after` and
    `published_before` (RFC 3339 times or dates).

    Paged: `limit` and the `cursor` of the previous answer's `next`; articles stored or
    deleted between pages never shift the pages still to come.
    """
    try:
        after = decode_cursor(query.cursor, str, int)
        before = article_list.before_key(after) if after else None  # type: ignore[arg-type]
        wanted = article_list.article_filter(query.model_dump(exclude_none=True))
    except (BadPage, FilterInvalid) as exc:
        return api_error(422, "invalid", str(exc), exc.field)
    rows = article_list.browse_articles(wanted, before, query.limit + 1)
    shown, cursor = page_of(rows, query.limit, article_list.cursor_key)
    # a page of up to 500 rows as plain dicts, in the shape `ArticleList` documents
    body = {"articles": [article_list.article_json(row) for row in shown], "next": cursor}
    db.session.commit()
    return jsonify(body)


def _newsletter(slug: str) -> Newsletter | None:
    return db.session.scalar(select(Newsletter).where(Newsletter.slug == slug))


NO_ARTICLES = "too few new articles: this digest would be skipped"
NO_TEST = "nothing to test: no new articles and no issue sent yet"


def _asked_locale(values: Mapping[str, Any]) -> Any:
    """The `locale` staff asked for; English when none (absent, null or empty)."""
    locale = values.get("locale")
    return "en" if locale is None or locale == "" else locale


@bp.post("/digest-preview/<slug>/test")
@endpoint(
    "send",
    path=SlugPath,
    body=TestSendRequest,
    answers={202: TestSendQueued},
    errors={
        404: "no such newsletter",
        409: "`no_articles`: nothing to test, no new articles and no issue sent yet",
        422: "`required`, `invalid_email` or `unknown_locale` (naming the `available` ones)",
    },
)
def digest_test(slug: str, body: TestSendRequest):
    """Mail a test of the digest `slug` would send now to `{"email"}`: 202 `{"job_id"}`."""
    newsletter = _newsletter(slug)
    if newsletter is None:
        return api_error(404, "not_found", "no such newsletter")
    if test_content(newsletter) is None:  # else the next digest or the last issue
        return api_error(409, "no_articles", NO_TEST)
    try:
        job_id = request_test_digest(
            newsletter, body.email, locale=_asked_locale(body.model_dump())
        )
    except InvalidEmail as exc:
        return api_error(422, "invalid_email", str(exc), field="email")
    except UnknownLocale as exc:
        return unknown_locale(exc)
    return TestSendQueued(status="queued", job_id=job_id), 202


@bp.get("/digest-preview/<slug>")
@endpoint(
    "read",
    path=SlugPath,
    query=PreviewQuery,
    answers={200: ["text/html", "text/plain"]},
    headers={200: {"Digest-Skipped": "present when the digest leaves articles out: why"}},
    errors={
        404: "no such newsletter, or `no_articles`: this digest would be skipped (`skipped`: "
        "the articles left out, by reason)",
        422: "`unknown_locale` (naming the `available` ones)",
    },
)
def digest_preview(slug: str, query: PreviewQuery):
    """Staff preview: the digest `slug` would send now, as HTML (`?format=text` for the text part).

    `?locale=` picks the language (`en` by default; one with no catalogue is a 422).
    """
    newsletter = _newsletter(slug)
    if newsletter is None:
        return api_error(404, "not_found", "no such newsletter")
    kind = query.format or "html"
    content, selection = compose_report(newsletter)
    skipped = dict(selection.skipped)
    if content is None:
        return api_error(404, "no_articles", NO_ARTICLES, skipped=skipped)
    try:
        rendered = render_sample(content, newsletter, _asked_locale(query.model_dump()))
    except UnknownLocale as exc:
        return unknown_locale(exc)
    kind = "text/plain" if kind == "text" else "text/html"
    response = Response(rendered.text if kind == "text/plain" else rendered.html, mimetype=kind)
    if skipped:  # what the digest left out and why, e.g. "1 article(s) skipped: 1 published ..."
        response.headers["Digest-Skipped"] = selection.skipped_text()
    return response
