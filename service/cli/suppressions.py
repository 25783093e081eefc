"""Ops commands for the suppression list (manual blocks) and the expiry of unconfirmed signups."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from service import audit
from service.addresses import InvalidEmail, parse_address
from service.leaving import suppression_list as entries
from service.leaving.expiry import purge_expired_pending
from service.leaving.suppression import reason as suppression_reason


def _key(email: str) -> str:
    try:
        return parse_address(email, allow_smtputf8=True).key
    except InvalidEmail:
        raise click.BadParameter(f"{email!r} is not an acceptable address") from None


@click.group("suppressions")
def suppressions() -> None:
    """Addresses that are never mailed (kept only as a SHA-256 hash)."""


@suppressions.command("add")
@click.argument("email")
@click.option("--reason", default="manual", show_default=True, help="manual, bounce, ...")
@click.option("--detail", default="", help="A note for the record (no personal data).")
@with_appcontext
def suppressions_add(email: str, reason: str, detail: str) -> None:
    """Block EMAIL: no newsletter and no confirmation email reaches it any more (in the audit
    log as `suppression.added`)."""
    key = _key(email)
    try:
        row, _ = entries.add_by_hand(key, reason, detail, audit.cli_actor())
    except entries.SuppressionInvalid as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.field}") from None
    click.echo(f"suppressed ({row.reason})")


@suppressions.command("remove")
@click.argument("email")
@click.option("--reason", default="removed by hand", show_default=True,
              help="Why the block is lifted (kept in the audit log).")  # fmt: skip
@with_appcontext
def suppressions_remove(email: str, reason: str) -> None:
    """Lift the block on EMAIL (its subscriptions keep their status; in the audit log as
    `suppression.removed`)."""
    found = entries.find(_key(email))
    if found is None:
        click.echo("not suppressed")
        return
    try:
        entries.remove_by_hand(found.id, reason, audit.cli_actor())
    except entries.SuppressionInvalid as exc:
        raise click.BadParameter(str(exc), param_hint="--reason") from None
    click.echo("removed")


@suppressions.command("check")
@click.argument("email")
@with_appcontext
def suppressions_check(email: str) -> None:
    """Say whether EMAIL is suppressed and why; exit 1 if it is not."""
    reason = suppression_reason(_key(email))
    if reason is None:
        click.echo("not suppressed")
        raise SystemExit(1)
    click.echo(f"suppressed ({reason})")


@click.command("purge-pending")
@click.option("--days", type=int, default=None, help="Age in days (default PENDING_EXPIRY_DAYS).")
@with_appcontext
def purge_pending(days: int | None) -> None:
    """Purge signups left unconfirmed for too long (beat runs this hourly)."""
    click.echo(f"expired {purge_expired_pending(days)} pending subscription(s)")


COMMANDS = [suppressions, purge_pending]
