"""Ops command: a newsletter's daily figures as a table (`newsletter stats SLUG`)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from service import daily
from service.cli.slugs import newsletter_or_fail
from service.extensions import db
from service.models.daily import COUNTS


@click.command("stats")
@click.argument("slug")
@click.option("--from", "first", help="First day, YYYY-MM-DD (default: 29 days before --to).")
@click.option("--to", "last", help="Last day, YYYY-MM-DD (default: today, UTC).")
@with_appcontext
def stats(slug: str, first: str | None, last: str | None) -> None:
    """Daily signups, confirmations, unsubscribes, bounces, complaints, erasures and net growth
    (confirmed readers) of newsletter SLUG, one line per UTC day, and the totals."""
    newsletter = newsletter_or_fail(slug, "SLUG")
    try:
        start, end = daily.date_range(first, last)
    except daily.BadRange as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.field}") from None
    days = daily.series(db.session(), newsletter.id, start, end)
    widths = [10, *(max(len(name), 6) for name in COUNTS)]
    header = ["date", *COUNTS]
    click.echo("  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in
                         enumerate(zip(header, widths, strict=True))))  # fmt: skip
    rows = [[day["date"], *(str(day[name]) for name in COUNTS)] for day in days]
    rows.append(["total", *(str(sum(day[name] for day in days)) for name in COUNTS)])
    for row in rows:
        cells = [c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                 enumerate(zip(row, widths, strict=True))]  # fmt: skip
        click.echo("  ".join(cells))


COMMANDS = [stats]
