"""Admin API (bearer key): list, create, update and delete newsletters."""

from __future__ import annotations

from flask import Blueprint, url_for

from service.extensions import db
from service.http.auth import operator
from service.http.contract import endpoint
from service.http.errors import api_error
from service.http.schemas.common import SlugPath
from service.http.schemas.newsletters import (
    Newsletter,
    NewsletterCreate,
    NewsletterFields,
    NewsletterList,
)
from service.lists.newsletters import (
    NewsletterExists,
    NewsletterInvalid,
    create_newsletter,
    get_newsletter,
    list_newsletters,
    update_newsletter,
)
from service.lists.retire import NewsletterInUse, delete_newsletter

bp = Blueprint("admin_newsletters", __name__, url_prefix="/api/v1")
FIELD_INVALID = "a field is invalid (named in `field`)"
_SLUG = {"slug": "$response.body#/slug"}
_FIRST_SLUG = {"slug": "$response.body#/newsletters/0/slug"}


def _invalid(exc: NewsletterInvalid):
    db.session.rollback()
    return api_error(422, exc.code, exc.message, exc.field)


@bp.get("/newsletters")
@endpoint(
    "read",
    answers={200: NewsletterList},
    links={
        200: {
            "PreviewDigest": ("articles.digest_preview.get", _FIRST_SLUG),
            "TestDigest": ("articles.digest_test.post", _FIRST_SLUG),
            "CreateSend": ("sends.create_send.post", _FIRST_SLUG),
        }
    },
)
def index():
    """List every newsletter with its schedule and digest settings."""
    shown = NewsletterList(newsletters=[Newsletter.of(n) for n in list_newsletters()])
    db.session.commit()
    return shown


@bp.post("/newsletters")
@endpoint(
    "write",
    body=NewsletterCreate,
    answers={201: Newsletter},
    errors={409: "`conflict`: a newsletter with this slug exists", 422: FIELD_INVALID},
    links={
        201: {
            "UpdateNewsletter": ("admin_newsletters.update.patch", _SLUG),
            "CreateSend": ("sends.create_send.post", _SLUG),
            "PreviewDigest": ("articles.digest_preview.get", _SLUG),
            "TestDigest": ("articles.digest_test.post", _SLUG),
        }
    },
)
def create(body: NewsletterCreate):
    """Create a newsletter: `slug` and `name` required; 201, or 409 if the slug is taken."""
    fields = {key: value for key, value in body.given().items() if key != "slug"}
    try:
        newsletter = create_newsletter(body.slug, fields, actor=operator())
    except NewsletterInvalid as exc:
        return _invalid(exc)
    except NewsletterExists:
        db.session.rollback()
        return api_error(409, "conflict", "A newsletter with this slug exists.", "slug")
    where = url_for("admin_newsletters.update", slug=newsletter.slug)
    return Newsletter.of(newsletter), 201, {"Location": where}


@bp.patch("/newsletters/<slug>")
@endpoint(
    "write",
    path=SlugPath,
    body=NewsletterFields,
    answers={200: Newsletter},
    errors={404: "no such newsletter", 422: FIELD_INVALID},
)
def update(slug: str, body: NewsletterFields):
    """Change any field: name, schedule, sections, tags, feed_url, is_public, archived, ..."""
    newsletter = get_newsletter(slug)
    if newsletter is None:
        db.session.rollback()
        return api_error(404, "not_found", f"No newsletter {slug!r}.")
    try:
        update_newsletter(newsletter, body.given(), actor=operator())
    except NewsletterInvalid as exc:
        return _invalid(exc)
    return Newsletter.of(newsletter)


@bp.delete("/newsletters/<slug>")
@endpoint(
    "write",
    path=SlugPath,
    answers={204: None},
    errors={
        404: "no such newsletter",
        409: "`newsletter_in_use`: it has confirmed readers or sends that started "
        "(`readers`, `sends`); archive it instead",
    },
)
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
