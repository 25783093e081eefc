"""Admin API: the pages that bring a newsletter's signups (`GET /api/v1/newsletters/<slug>/sources`),
read from the page rows kept with each change (`service.sources`)."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from service.extensions import db
from service.http.contract import endpoint
from service.http.errors import api_error
from service.http.schemas.common import SlugPath
from service.http.schemas.sources import NewsletterSources, PageCounts, SourcePage, SourcesQuery
from service.models import Newsletter
from service.sources.top import top_pages

bp = Blueprint("sources", __name__, url_prefix="/api/v1")


@bp.get("/newsletters/<slug>/sources")
@endpoint(
    "read",
    path=SlugPath,
    query=SourcesQuery,
    answers={200: NewsletterSources},
    errors={
        404: "no such newsletter",
        422: "`invalid`: `days` or `limit` is not a whole number in its bounds (named in `field`)",
    },
)
def newsletter_sources(slug: str, query: SourcesQuery):
    """The pages that brought the newsletter's signups over the last `days` UTC days (today
    included), most signups first: each page (scheme, host and path of the signup form's
    `source_url`; `other` for a page on an origin the newsletter does not allow, `direct` for a
    signup that sent none) with its signups, the confirmations of readers who signed up there
    made in these days, and the confirmation rate. `totals` adds up every page."""
    newsletter_id = db.session.scalar(select(Newsletter.id).where(Newsletter.slug == slug))
    if newsletter_id is None:
        return api_error(404, "not_found", f"No newsletter {slug[:100]!r}.")
    found = top_pages(db.session(), newsletter_id, query.days, query.limit)
    body = NewsletterSources.model_validate({
        "newsletter": slug, "from": found.first.isoformat(), "to": found.last.isoformat(),
        "days": query.days,
        "pages": [SourcePage.model_validate(page) for page in found.pages],
        "totals": PageCounts.model_validate(found.totals),
    })  # fmt: skip
    db.session.commit()
    return body
