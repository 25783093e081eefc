"""Ops commands for newsletters and subscribers: create/list, CSV import and export."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from flask.cli import with_appcontext

from service.extensions import db
from service.newsletters import (
    NewsletterExists,
    NewsletterInvalid,
    create_newsletter,
    get_newsletter,
    list_newsletters,
)
from service.subscribers import export_rows, import_subscribers, read_csv


@click.group("newsletters")
def newsletters() -> None:
    """Manage newsletters."""


@newsletters.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Display name, e.g. 'Ukraine Daily'.")
@click.option("--schedule", default=None, help="Digest schedule as cron, e.g. '0 7 * * *'.")
@click.option("--timezone", default="Europe/Kyiv", show_default=True, help="IANA time zone.")
@click.option("--description", default="", help="One-line description for signup forms.")
@click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    help="An origin (https://host) whose pages may sign readers up; repeat for several.",
)
@with_appcontext
def newsletters_create(
    slug: str,
    name: str,
    schedule: str | None,
    timezone: str,
    description: str,
    allowed_origins: tuple[str, ...],
) -> None:
    """Create the newsletter SLUG."""
    fields = {
        "name": name,
        "schedule": schedule,
        "timezone": timezone,
        "description": description,
        "allowed_origins": list(allowed_origins),
    }
    try:
        newsletter = create_newsletter(slug, fields)
    except NewsletterInvalid as exc:
        hint = "--" + exc.field.replace("allowed_origins", "allowed-origin")
        raise click.BadParameter(exc.message, param_hint=hint) from None
    except NewsletterExists:
        raise click.ClickException(f"newsletter {slug!r} already exists") from None
    click.echo(f"created {newsletter.slug} ({newsletter.name})")


@newsletters.command("list")
@with_appcontext
def newsletters_list() -> None:
    """List newsletters: slug, name, schedule, time zone, allowed origins (if any)."""
    items = list_newsletters()
    width = max((len(n.slug) for n in items), default=4)
    for n in items:
        origins = f"  [{' '.join(n.allowed_origins)}]" if n.allowed_origins else ""
        schedule = n.schedule_cron or "-"
        click.echo(f"{n.slug:<{width}}  {schedule:<15}  {n.timezone:<15}  {n.name}{origins}")


@click.group("subscribers")
def subscribers() -> None:
    """Import and export subscribers."""


def _counted_lines(handle, bar) -> Iterator[str]:
    """The file's lines, advancing the progress bar by each line's size in bytes."""
    for line in handle:
        bar.update(len(line.encode("utf-8")))
        yield line


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--newsletter", "slug", required=True, help="Slug of the newsletter to join.")
@click.option(
    "--confirmed",
    is_flag=True,
    help="Import as confirmed (you hold their consent); otherwise pending, no email sent.",
)
@with_appcontext
def subscribers_import(file: Path, slug: str, confirmed: bool) -> None:
    """Import FILE (CSV with an `email` column, optional `name`) into a newsletter.

    Bad rows are reported with their line numbers and skipped; the rest are imported.
    """
    newsletter = get_newsletter(slug)
    if newsletter is None:
        raise click.BadParameter(f"no newsletter {slug!r}", param_hint="--newsletter")

    def report(line: int, reason: str) -> None:
        click.echo(f"line {line}: {reason}", err=True)

    with (
        file.open(encoding="utf-8-sig", newline="") as handle,
        click.progressbar(
            length=file.stat().st_size, label=f"Importing into {slug}", file=sys.stderr
        ) as bar,
    ):
        try:
            rows = read_csv(_counted_lines(handle, bar))
            result = import_subscribers(rows, newsletter, confirmed=confirmed, on_error=report)
        except ValueError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        except UnicodeDecodeError as exc:
            db.session.rollback()
            raise click.ClickException(f"{file} is not UTF-8: {exc}") from None
    click.echo(
        f"{result.subscribed} subscribed ({'confirmed' if confirmed else 'pending'}), "
        f"{result.unchanged} already on the list, {result.rejected} rejected"
    )


@subscribers.command("export")
@click.option("--newsletter", "slug", required=True, help="Slug of the newsletter.")
@click.option(
    "--status",
    type=click.Choice(["pending", "confirmed", "unsubscribed", "bounced"]),
    default=None,
    help="Only subscriptions in this status (default: all).",
)
@with_appcontext
def subscribers_export(slug: str, status: str | None) -> None:
    """Write a newsletter's subscribers as CSV to stdout (streamed)."""
    newsletter = get_newsletter(slug)
    if newsletter is None:
        raise click.BadParameter(f"no newsletter {slug!r}", param_hint="--newsletter")
    writer = csv.writer(sys.stdout, lineterminator="\n")
    for row in export_rows(newsletter, status):
        writer.writerow(row)


COMMANDS = [newsletters, subscribers]
