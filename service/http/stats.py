"""Admin API: a newsletter's daily figures (`GET /api/v1/newsletters/<slug>/stats`), read from
the daily rows kept with each change (`service.daily`)."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from service import daily
from service.extensions import db
from service.http.contract import endpoint
from service.http.errors import api_error
from service.http.schemas.common import SlugPath
from service.http.schemas.stats import Day, Figures, NewsletterStats, StatsQuery
from service.models import Newsletter
from service.models.daily import COUNTS

bp = Blueprint("stats", __name__, url_prefix="/api/v1")


@bp.get("/newsletters/<slug>/stats")
@endpoint(
    "read",
    path=SlugPath,
    query=StatsQuery,
    answers={200: NewsletterStats},
    errors={
        404: "no such newsletter",
        422: "`invalid`: `from` or `to` is not a date, `from` is after `to`, or more than "
        f"{daily.MAX_DAYS} days (named in `field`)",
    },
)
def newsletter_stats(slug: str, query: StatsQuery):
    """The newsletter's daily figures, oldest first, one entry per UTC day from `from` to `to`
    (dates, both included; by default the last 30 days; at most 366): signups, confirmations,
    unsubscribes, bounces, complaints, erasures and `net` (the change in confirmed readers).
    A day with no change is all zeros."""
    newsletter_id = db.session.scalar(select(Newsletter.id).where(Newsletter.slug == slug))
    if newsletter_id is None:
        return api_error(404, "not_found", f"No newsletter {slug[:100]!r}.")
    try:
        first, last = daily.date_range(query.from_, query.to)
    except daily.BadRange as exc:
        return api_error(422, "invalid", str(exc), exc.field)
    days = daily.series(db.session(), newsletter_id, first, last)
    totals = {name: sum(day[name] for day in days) for name in COUNTS}
    body = NewsletterStats.model_validate({
        "newsletter": slug, "from": first.isoformat(), "to": last.isoformat(),
        "days": [Day.model_validate(day) for day in days], "totals": Figures(**totals),
    })  # fmt: skip
    db.session.commit()
    return body
