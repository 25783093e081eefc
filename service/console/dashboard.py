"""The console's front page: every newsletter with its readers and its last thirty days (signups,
confirmations, unsubscribes, bounces, net growth, drawn and in a table), the pages that brought
its signups, the last sends, and the send in progress with a live bar."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from flask_login import current_user

from service.console import bp, charts
from service.console.auth import action_form
from service.console.figures import send_view
from service.console.pages import render
from service.extensions import db
from service.lists.newsletters import list_newsletters
from service.sending import scheduling, summary
from service.sources.top import top_pages

LAST_SENDS = 10
SOURCE_DAYS, SOURCE_PAGES = 30, 10  # the pages that bring signups: 30 days, the top 10


def sources_of(newsletter_id: int) -> dict[str, Any]:
    """The pages that brought a newsletter's signups over `SOURCE_DAYS` days, the top
    `SOURCE_PAGES` (what `GET /api/v1/newsletters/<slug>/sources` answers), each page also
    split for reading: its path as a person reads it (percent escapes decoded) and its host."""
    found = top_pages(db.session(), newsletter_id, SOURCE_DAYS, SOURCE_PAGES)
    pages = []
    for figures in found.pages:
        parts = urlsplit(figures.page) if figures.kind == "page" else None
        pages.append({
            "page": figures.page, "kind": figures.kind, "signups": figures.signups,
            "confirmations": figures.confirmations, "confirmation_rate": figures.confirmation_rate,
            "host": parts.netloc if parts else "", "path": unquote(parts.path) if parts else "",
        })  # fmt: skip
    return {"pages": pages, "totals": found.totals}


@bp.get("/")
def dashboard():
    """Newsletters (readers by status, the last thirty days, the pages that bring signups),
    the last sends, what is going out now."""
    newsletters = [
        {
            "newsletter": n,
            "readers": scheduling.readers_by_status(n.id),  # exact, kept with each change
            "month": charts.last_month(n.id),
            "sources": sources_of(n.id),
        }
        for n in list_newsletters()
    ]
    sends = [send_view(s) for s in summary.list_sends(None, None, None, LAST_SENDS)]
    return render(
        "console/dashboard.html",
        newsletters=newsletters,
        sends=sends,
        source_days=SOURCE_DAYS,
        source_pages=SOURCE_PAGES,
        member=current_user,
        form=action_form(),
    )
