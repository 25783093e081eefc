"""Ops commands for subscribers: CSV import (with the consent choice made explicit) and export."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from service.cli.slugs import newsletter_or_fail
from service.extensions import db
from service.lists.csv_rows import read_csv
from service.lists.imports import ImportMode, ImportReport, import_subscribers
from service.lists.subscribers import export_rows
from service.lists.text_encoding import SAVE_AS_UTF8, UnknownEncoding, detect_encoding

CHOICES = (
    "say what the readers of this list agreed to, with one of:\n"
    "  --send-confirmation\n"
    "      mail each new reader the confirmation email; they are subscribed when they\n"
    "      click it (as a signup on the site)\n"
    '  --confirmed --consent "WHERE"\n'
    "      they already agreed to receive this newsletter; WHERE is kept as the proof\n"
    "      (e.g. 'paper form at the Lviv book fair, 2026-11'); they get the next digest\n"
    "  --pending\n"
    "      store them and mail nothing (no digest until they confirm; purged after\n"
    "      PENDING_EXPIRY_DAYS)"
)


@click.group("subscribers")
def subscribers() -> None:
    """Import and export subscribers."""


def _counted_lines(handle, bar) -> Iterator[str]:
    """The file's lines, advancing the progress bar by each line's length in characters."""
    for line in handle:
        bar.update(len(line))
        yield line


def _text_length(file: Path, encoding: str) -> int:
    """The file's length in characters (the progress bar's unit), read once without storing it."""
    total = 0
    with file.open(encoding=encoding, newline="") as handle:
        while chunk := handle.read(1 << 16):
            total += len(chunk)
    return total


def _mode(
    file: Path, send_confirmation: bool, confirmed: bool, consent: str | None, pending: bool
) -> tuple[ImportMode, str | None]:
    """The import mode the options name, and the consent source; a usage error otherwise."""
    if consent is not None and not consent.strip():
        raise click.BadParameter("say where the consent came from", param_hint="--consent")
    confirmed = confirmed or consent is not None
    chosen = [
        mode
        for mode, given in (
            (ImportMode.SEND_CONFIRMATION, send_confirmation),
            (ImportMode.CONFIRMED, confirmed),
            (ImportMode.PENDING, pending),
        )
        if given
    ]
    if len(chosen) != 1:
        opening = "choose only one: " if chosen else "the import needs a choice: "
        raise click.UsageError(opening + CHOICES)
    if chosen[0] == ImportMode.CONFIRMED and consent is None:
        consent = f"imported as confirmed from {file.name} (no --consent given)"
        click.echo(
            f"note: recording the consent source as {consent!r}; next time say where it came "
            "from with --consent 'TEXT'",
            err=True,
        )
    return chosen[0], consent


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--newsletter", "slug", required=True, help="Slug of the newsletter to join.")
@click.option(
    "--send-confirmation",
    is_flag=True,
    help="Mail each new (or still pending) reader the confirmation email.",
)
@click.option(
    "--confirmed",
    is_flag=True,
    help="The readers already agreed: import them as confirmed (say where with --consent).",
)
@click.option(
    "--consent",
    metavar="TEXT",
    default=None,
    help="Where the readers' consent came from, kept on each subscription (implies --confirmed).",
)
@click.option("--pending", is_flag=True, help="Store the readers as pending and mail nothing.")
@with_appcontext
def subscribers_import(
    file: Path,
    slug: str,
    send_confirmation: bool,
    confirmed: bool,
    consent: str | None,
    pending: bool,
) -> None:
    """Import FILE (CSV: addresses in a column such as `email` or `Email Address`, optional
    `name` or `First Name` and `Last Name`; separated by `,`, `;` or tab) into a newsletter.

    Say what the readers agreed to: --send-confirmation, --confirmed --consent TEXT, or
    --pending. Importing a list again moves its readers on (pending to confirmed, or a
    confirmation email); readers who unsubscribed or bounced and suppressed addresses are
    never subscribed again.

    The encoding is detected (UTF-8 with or without BOM, UTF-16, cp1251, ...). Bad rows are
    reported with their line numbers after the progress bar and skipped; the rest are
    imported. Likely typos (gmial.com) are imported as typed and listed as warnings.
    """
    newsletter = newsletter_or_fail(slug, "--newsletter")
    mode, consent = _mode(file, send_confirmation, confirmed, consent, pending)
    try:
        encoding = detect_encoding(file)
    except UnknownEncoding as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    if encoding not in {"utf-8", "utf-8-sig"}:
        click.echo(f"{file} is not UTF-8: reading it as {encoding}", err=True)
    problems: list[str] = []
    warnings: list[str] = []
    with (
        file.open(encoding=encoding, newline="") as handle,
        click.progressbar(
            length=_text_length(file, encoding), label=f"Importing into {slug}", file=sys.stderr
        ) as bar,
    ):
        try:
            rows = read_csv(_counted_lines(handle, bar))
            result = import_subscribers(
                rows,
                newsletter,
                mode=mode,
                consent=consent,
                on_error=lambda line, reason: problems.append(f"line {line}: {reason}"),
                on_warning=lambda line, reason: warnings.append(f"line {line}: {reason}"),
            )
        except ValueError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        except UnicodeDecodeError as exc:
            db.session.rollback()
            raise click.ClickException(f"{file} is not {encoding}: {exc}; {SAVE_AS_UTF8}") from None
    for line in problems:
        click.echo(f"rejected {line}", err=True)
    for line in warnings:
        click.echo(f"warning  {line}", err=True)
    click.echo(_summary(result, mode))
    if mode == ImportMode.PENDING and result.subscribed:
        days = current_app.config.get("PENDING_EXPIRY_DAYS", 30)
        click.echo(
            "pending readers get no email and no digest; to move them on, import the file "
            "again with --send-confirmation or --confirmed --consent TEXT (unconfirmed, they "
            f"are purged after {days} days)",
            err=True,
        )


def _summary(result: ImportReport, mode: ImportMode) -> str:
    """One line: what the import did, the counts that are not zero after the first."""
    status = {
        ImportMode.SEND_CONFIRMATION: "pending, confirmation email sent",
        ImportMode.CONFIRMED: "confirmed",
        ImportMode.PENDING: "pending",
    }[mode]
    parts = [f"{result.subscribed} subscribed ({status})"]
    if result.confirmed:
        parts.append(f"{result.confirmed} pending confirmed")
    if mode == ImportMode.SEND_CONFIRMATION:
        parts.append(f"{result.confirmations_sent} confirmation emails queued")
    parts.append(f"{result.unchanged} already on the list")
    if result.left:
        parts[-1] += f" ({result.left} unsubscribed or bounced, left so)"
    parts.append(f"{result.rejected} rejected")
    if result.suspected:
        parts.append(f"{result.suspected} look like typos (see the warnings above)")
    return ", ".join(parts)


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
    newsletter = newsletter_or_fail(slug, "--newsletter")
    writer = csv.writer(sys.stdout, lineterminator="\n")
    for row in export_rows(newsletter, status):
        writer.writerow(row)


COMMANDS = [subscribers]
