"""Ops commands for admin API keys: `api-keys create NAME [--scope ...]`, `list`, `revoke NAME`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from service import audit
from service.access import keys


@click.group("api-keys")
def api_keys() -> None:
    """Admin API keys: scoped, listed without the key, revoked at once."""


@api_keys.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(keys.SCOPES),
    help="What the key may do (repeatable; default admin): read; write (includes read); "
    "send (includes read); admin (everything, and keys and the audit log).",
)
@with_appcontext
def api_keys_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create an API key named NAME and print it (shown only this once)."""
    try:
        click.echo(keys.create_api_key(name, scopes or None, actor=audit.cli_actor()))
    except (keys.KeyInvalid, keys.KeyNameTaken) as exc:
        raise click.ClickException(str(exc)) from None


@api_keys.command("list")
@with_appcontext
def api_keys_list() -> None:
    """List the active keys: name, prefix, scopes, created, last used (never the key)."""
    rows = [keys.describe(k) for k in keys.list_api_keys()]
    if not rows:
        click.echo("no active keys (create one: newsletter api-keys create NAME)")
        return
    header = ("NAME", "PREFIX", "SCOPES", "CREATED", "LAST USED")
    table = [
        (
            r["name"],
            r["prefix"],
            ",".join(r["scopes"]),
            r["created_at"][:19],
            (r["last_used_at"] or "never")[:19],
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@api_keys.command("revoke")
@click.argument("name")
@with_appcontext
def api_keys_revoke(name: str) -> None:
    """Revoke the key NAME at once: its next request answers 401."""
    try:
        keys.revoke_api_key(name, actor=audit.cli_actor())
    except keys.NoSuchKey as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked {name}")


COMMANDS = [api_keys]
