"""The `newsletter` ops command: a Flask CLI group over the same environment as the web app."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def _create_app() -> Flask:
    """The app for a command; a configuration that cannot work is one clear line, no traceback."""
    from service import create_app
    from service.config import ConfigError

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def register_commands(app: Flask) -> None:
    """Attach every module's ops commands to `app.cli` (wiring in one place).

    Groups of the same name (`digest` has `preview` from one module, `send` from another)
    are merged rather than replaced.
    """
    from service.cli import admin, content, core, keys, retire, run, sending, suppressions

    for module in (core, keys, admin, retire, content, sending, suppressions, run):
        for command in module.COMMANDS:
            existing = app.cli.commands.get(command.name)
            if isinstance(existing, click.Group) and isinstance(command, click.Group):
                for name, subcommand in command.commands.items():
                    existing.add_command(subcommand, name)
            else:
                app.cli.add_command(command)


class NewsletterGroup(FlaskGroup):
    """Flask's command group, with `db downgrade` asking before it drops data."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if name == "db" and isinstance(command, click.Group) and "downgrade" in command.commands:
            from service.cli.migrations import guarded_db_group

            return guarded_db_group(command)
        return command


@click.group(
    cls=NewsletterGroup,
    create_app=_create_app,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
def main() -> None:
    """newsletter-service ops commands."""
