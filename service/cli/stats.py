"""Ops command: a newsletter's daily figures as a table (`newsletter stats SLUG`), or the pages
that brought its signups (`newsletter stats SLUG --sources`)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from service import daily
from service.cli.slugs import newsletter_or_fail
from service.extensions import db
from service.models.daily import COUNTS
from service.sources import top


@click.command("stats")
@click.argument("slug")
@click.option("--from", "first", help="First day, YYYY-MM-DD (default: 29 days before --to).")
@click.option("--to", "last", help="Last day, YYYY-MM-DD (default: today, UTC).")
@click.option("--sources", is_flag=True, help="The pages that brought signups instead.")
@click.option("--days", type=click.IntRange(1, top.MAX_DAYS), default=top.DEFAULT_DAYS,
              show_default=True, help="With --sources: UTC days up to today.")  # fmt: skip
@click.option("--limit", type=click.IntRange(1, top.MAX_LIMIT), default=top.DEFAULT_LIMIT,
              show_default=True, help="With --sources: pages, most signups first.")  # fmt: skip
@with_appcontext
def stats(slug: str, first: str | None, last: str | None, sources: bool, days: int,
          limit: int) -> None:  # fmt: skip
    """Daily signups, confirmations, unsubscribes, bounces, complaints, erasures and net growth
    (confirmed readers) of newsletter SLUG, one line per UTC day, and the totals. With
    --sources: the pages its signups were made on over the last --days, with their signups,
    confirmations and confirmation rate."""
    newsletter = newsletter_or_fail(slug, "SLUG")
    if sources:
        if first or last:
            raise click.UsageError("--sources takes --days, not --from or --to.")
        _sources(newsletter.id, days, limit)
        return
    try:
        start, end = daily.date_range(first, last)
    except daily.BadRange as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.field}") from None
    series = daily.series(db.session(), newsletter.id, start, end)
    widths = [10, *(max(len(name), 6) for name in COUNTS)]
    header = ["date", *COUNTS]
    click.echo("  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in
                         enumerate(zip(header, widths, strict=True))))  # fmt: skip
    rows = [[day["date"], *(str(day[name]) for name in COUNTS)] for day in series]
    rows.append(["total", *(str(sum(day[name] for day in series)) for name in COUNTS)])
    for row in rows:
        cells = [c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                 enumerate(zip(row, widths, strict=True))]  # fmt: skip
        click.echo("  ".join(cells))


def _rate(figures: top.PageFigures) -> str:
    rate = figures.confirmation_rate
    return "-" if rate is None else f"{rate * 100:.0f}%"


def _sources(newsletter_id: int, days: int, limit: int) -> None:
    """The top pages as a table: page, signups, confirmed, rate; then every page's total."""
    found = top.top_pages(db.session(), newsletter_id, days, limit)
    rows = [[p.page, str(p.signups), str(p.confirmations), _rate(p)] for p in found.pages]
    totals = found.totals
    rows.append(["all pages", str(totals.signups), str(totals.confirmations), _rate(totals)])
    header = ["page", "signups", "confirmed", "rate"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                             enumerate(zip(row, widths, strict=True))))  # fmt: skip


COMMANDS = [stats]
