"""Ops commands for the suppression list (manual blocks) and the expiry of unconfirmed signups."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from service.addresses import InvalidEmail, parse_address
from service.leaving.expiry import purge_expired_pending
from service.leaving.suppression import reason as suppression_reason
from service.leaving.suppression import suppress, unsuppress


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
    """Block EMAIL: no newsletter and no confirmation email reaches it any more."""
    suppress(_key(email), reason, detail)
    click.echo(f"suppressed ({reason})")


@suppressions.command("remove")
@click.argument("email")
@with_appcontext
def suppressions_remove(email: str) -> None:
    """Lift the block on EMAIL (its subscriptions keep their status)."""
    unsuppress(_key(email))
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
