"""Ops commands for console accounts: `staff create EMAIL --role ROLE`, `staff list`,
`staff reset-totp EMAIL` (a second factor lost, or sealed under a key that is gone).

The password is never an argument (it would sit in the shell's history and in `ps`): it is
asked for twice at a terminal, or read as one line from standard input in a script.
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from service import audit
from service.staff import accounts, totp
from service.staff.roles import ROLES


def _password() -> str:
    """The new password: prompted (hidden, twice) at a terminal, else stdin's first line."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@click.group("staff")
def staff() -> None:
    """Console accounts: owners, editors and viewers."""


@staff.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="editor", show_default=True,
              help="owner: everything, staff and keys; editor: newsletters, sends, articles, "
              "readers; viewer: read only.")  # fmt: skip
@with_appcontext
def staff_create(email: str, role: str) -> None:
    """Create a console account for EMAIL (password from a prompt, or one line on stdin)."""
    try:
        member = accounts.create_member(email, role, _password(), actor=audit.cli_actor())
    except (accounts.AccountInvalid, accounts.AccountTaken) as exc:
        raise click.ClickException(str(exc)) from None
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    click.echo(f"created {member.role} {member.email}; sign in at {base}/admin/")


@staff.command("list")
@with_appcontext
def staff_list() -> None:
    """List the console accounts: address, role, second factor, last sign-in."""
    members = accounts.list_members()
    if not members:
        click.echo("no staff yet (create the first: newsletter staff create EMAIL --role owner)")
        return
    for member in members:
        last = member.last_sign_in_at.isoformat()[:19] if member.last_sign_in_at else "never"
        totp = "totp" if member.totp_secret else "password only"
        state = " (disabled)" if member.disabled_at else ""
        click.echo(f"{member.email}  {member.role}  {totp}  last sign-in {last}{state}")


@staff.command("reset-totp")
@click.argument("email")
@with_appcontext
def staff_reset_totp(email: str) -> None:
    """Turn EMAIL's two-step sign-in off (a lost phone, or a secret no key opens any more):
    their sessions end; they sign in with the password and enrol again. Audited."""
    member = accounts.find_member(email)
    if member is None:
        raise click.ClickException(f"no staff account for {email!r}")
    if not member.totp_secret:
        click.echo(f"{member.email} has no second factor; nothing to reset")
        return
    totp.reset(member, actor=audit.cli_actor())
    click.echo(f"two-step sign-in of {member.email} is off; they enrol again from their account")


COMMANDS = [staff]
