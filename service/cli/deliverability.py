"""`newsletters report SLUG`: a newsletter's deliverability over its sends."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from service.cli.slugs import newsletter_or_fail
from service.deliverability.report import newsletter_report, parse_day
from service.sending.summary import percent


@click.group("newsletters")
def newsletters() -> None:
    """Manage newsletters."""


@newsletters.command("report")
@click.argument("slug")
@click.option("--from", "since", help="Only sends that started at or after this ISO date.")
@click.option("--to", "until", help="Only sends that started before this ISO date.")
@with_appcontext
def newsletters_report(slug: str, since: str | None, until: str | None) -> None:
    """Delivered, bounced, complained and unsubscribed over newsletter SLUG's sends, with
    their rates (of the messages handed over; complaints and unsubscribes of those sent)."""
    newsletter = newsletter_or_fail(slug, "'SLUG'")
    bounds = []
    for value, hint in ((since, "--from"), (until, "--to")):
        try:
            bounds.append(parse_day(value))
        except ValueError:
            raise click.BadParameter("an ISO 8601 date, e.g. 2026-12-01", param_hint=hint) from None
    figures = newsletter_report(newsletter.id, *bounds)
    rates = figures.pop("rates")
    for key, value in figures.items():
        shown = f"{value} ({percent(rates[key])})" if key in rates else value
        click.echo(f"{key:>14}: {shown}")


COMMANDS = [newsletters]
