"""Ops commands for the secrets stored sealed (staff TOTP secrets, webhook secrets):
`secrets check` says whether every one opens and which are under an older key, `secrets
reseal` seals them all under the newest `SECRET_KEY` (the step before dropping an old key)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from service.sealed import Tally
from service.staff.totp import reseal_secrets as reseal_totp
from service.webhooks.endpoints import reseal_secrets as reseal_webhooks


@click.group("secrets")
def secrets() -> None:
    """Stored secrets sealed under SECRET_KEY: check them, reseal them after a rotation."""


def _tally(write: bool) -> Tally:
    return reseal_totp(write=write).add(reseal_webhooks(write=write))


def _say_unreadable(tally: Tally) -> None:
    for label in tally.unreadable:
        click.echo(f"cannot open: {label}", err=True)
    if tally.unreadable:
        raise click.ClickException(
            f"{len(tally.unreadable)} sealed secret(s) open with no key in SECRET_KEY: put the "
            "old key back at the end of the list, or reset them (newsletter staff reset-totp "
            "EMAIL; newsletter webhooks rotate ID)"
        )


@secrets.command("check")
@with_appcontext
def secrets_check() -> None:
    """Open every stored secret (changing nothing); exit 1 if any opens with no key."""
    tally = _tally(write=False)
    click.echo(f"{tally.current} sealed under the newest key; {tally.resealed} to reseal "
               "(an older key, or plain)")  # fmt: skip
    _say_unreadable(tally)


@secrets.command("reseal")
@with_appcontext
def secrets_reseal() -> None:
    """Seal every stored secret under the newest key; after it, an older key may leave
    SECRET_KEY without locking anyone out. Exit 1 if any opens with no key."""
    tally = _tally(write=True)
    click.echo(f"resealed {tally.resealed}; {tally.current} were under the newest key already")
    _say_unreadable(tally)


COMMANDS = [secrets]
