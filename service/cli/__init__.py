"""The `newsletter` ops command: a Flask CLI group over the same environment as the web app."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def _create_app() -> Flask:
    from service import create_app

    return create_app()


def register_commands(app: Flask) -> None:
    """Attach every ops command group to `app.cli` (wiring in one place)."""
    from service.cli import core

    for command in core.COMMANDS:
        app.cli.add_command(command)
    from service.cli import admin

    for command in admin.COMMANDS:
        app.cli.add_command(command)
    from service.cli import content

    content.register(app)  # merges into an existing `digest` group instead of replacing it
    from service.cli import sending

    sending.register(app)  # `digest send` merges into the `digest` group; `sends`
    from service.cli import suppressions

    for command in suppressions.COMMANDS:
        app.cli.add_command(command)


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
def main() -> None:
    """newsletter-service ops commands."""
