"""Admin API (bearer key): a newsletter's deliverability report over its sends."""

from __future__ import annotations

from flask import Blueprint

from service.deliverability.report import newsletter_report, parse_day
from service.extensions import db
from service.http.contract import endpoint
from service.http.errors import api_error
from service.http.schemas.common import SlugPath
from service.http.schemas.deliverability import NewsletterReport, ReportQuery
from service.lists.newsletters import get_newsletter

bp = Blueprint("newsletter_report", __name__, url_prefix="/api/v1")


@bp.get("/newsletters/<slug>/report")
@endpoint(
    "read",
    path=SlugPath,
    query=ReportQuery,
    answers={200: NewsletterReport},
    errors={404: "no such newsletter", 422: "`invalid`: `from` or `to` is not an ISO 8601 date"},
)
def report(slug: str, query: ReportQuery):
    """Delivered, bounced (hard, soft), refused for policy, complained and unsubscribed, with
    their rates, over the newsletter's sends that started in [`from`, `to`)."""
    newsletter = get_newsletter(slug[:100])
    if newsletter is None:
        return api_error(404, "not_found", f"No newsletter {slug!r}.", field="slug")
    bounds = {}
    for name, value in (("from", query.from_), ("to", query.to)):
        try:
            bounds[name] = parse_day(value)
        except ValueError:
            return api_error(422, "invalid", f"{name} is an ISO 8601 date or time.", name)
    figures = newsletter_report(newsletter.id, bounds["from"], bounds["to"])
    body = NewsletterReport.model_validate({"newsletter": newsletter.slug, **figures})
    db.session.commit()
    return body
