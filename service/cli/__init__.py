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
        bounces,
        content,
        core,
        deliverability,
        dns,
        keys,
        metrics,
        retire,
        run,
        secrets,
        sending,
        staff,
        stats,
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
        deliverability,
        suppressions,
        stats,
        webhooks,
        staff,
        secrets,
        bounces,
        dns,
        metrics,
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


class DatabaseProblem(click.ClickException):
    """A database that cannot be used, said as one line on stderr: `newsletter: ...`."""

    def show(self, file=None) -> None:
        click.echo(f"newsletter: {self.format_message()}", err=True)


def database_problem(exc: Exception) -> str | None:
    """One line for a database that cannot be used (away, no schema), else None.

    The URL is shown without its password.
    """
    from flask import current_app
    from sqlalchemy.exc import ProgrammingError

    from service.database_away import is_away, one_line, reason, shown_url

    try:
        url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    except (KeyError, RuntimeError):  # no app or no URL: say what we know
        url = "the database"
    text = str(getattr(exc, "orig", None) or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "no such table" in first or ("does not exist" in first and "relation" in first):
        return f"{shown_url(url)} has no tables yet ({first}): run `newsletter db upgrade` first"
    if isinstance(exc, ProgrammingError) or not is_away(exc):
        return None
    return one_line(url, exc) if reason(exc) else None


class NewsletterGroup(FlaskGroup):
    """Flask's command group, with `db downgrade` asking before it drops data, and a database
    that cannot be used said in one line instead of a traceback, whatever the command."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import ProgrammingError

        from service.database_away import AWAY_ERRORS

        try:
            return super().invoke(ctx)
        except (*AWAY_ERRORS, ProgrammingError) as exc:
            problem = database_problem(exc)
            if problem is None:
                raise
            raise DatabaseProblem(problem) from None

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
