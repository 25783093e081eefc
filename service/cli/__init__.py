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
    from service.cli import (
        admin,
        content,
        core,
        keys,
        retire,
        run,
        sending,
        staff,
        subscribers,
        suppressions,
        webhooks,
    )

    modules = (
        core,
        keys,
        admin,
        subscribers,
        retire,
        content,
        sending,
        suppressions,
        webhooks,
        staff,
        run,
    )
    for module in modules:
        for command in module.COMMANDS:
            existing = app.cli.commands.get(command.name)
            if isinstance(existing, click.Group) and isinstance(command, click.Group):
                for name, subcommand in command.commands.items():
                    existing.add_command(subcommand, name)
            else:
                app.cli.add_command(command)


def database_problem(exc: Exception) -> str | None:
    """One line for a database that cannot be used (unreachable, no schema), else None.

    The URL is shown without its password.
    """
    from flask import current_app
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

    if not isinstance(exc, OperationalError | ProgrammingError):
        return None
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    try:
        url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
        where = url.render_as_string(hide_password=True)
    except (KeyError, RuntimeError, SQLAlchemyError):  # no app or no URL: say what we know
        where = "the database"
    if "no such table" in reason or ("does not exist" in reason and "relation" in reason):
        return f"{where} has no tables yet ({reason}): run `newsletter db upgrade` first"
    if isinstance(exc, ProgrammingError):
        return None
    return f"cannot use the database {where}: {reason} (check DATABASE_URL and that it is up)"


class NewsletterGroup(FlaskGroup):
    """Flask's command group, with `db downgrade` asking before it drops data, and a database
    that cannot be used said in one line instead of a traceback, whatever the command."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as exc:
            problem = database_problem(exc)
            if problem is None:
                raise
            raise click.ClickException(problem) from None

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
