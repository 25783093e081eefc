"""Core ops commands: demo data, Celery worker and beat, the run banner.

`seed-demo` and `banner` run in `make run` before its processes start, so they write JSON
lines like everything `make run` shows (`service.logs.json_line`).
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from service.logs import json_line
from service.seed import seed_demo


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Create the demo newsletters and sample articles (idempotent; development only)."""
    if not _development():
        click.echo(
            json_line(__name__, "skipped: demo data is for development (APP_ENV is production)")
        )
        return
    created = seed_demo()
    click.echo(json_line(__name__, f"demo data ready ({created} new rows)"))


def _celery_argv(kind: str, extra: tuple[str, ...]) -> list[str]:
    return [kind, "--loglevel", current_app.config["LOG_LEVEL"].lower(), *extra]


@click.command("worker", context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@with_appcontext
def worker(celery_args: tuple[str, ...]) -> None:
    """Start a Celery worker for this app (extra arguments go to `celery worker`)."""
    current_app.extensions["celery"].worker_main(_celery_argv("worker", celery_args))


@click.command("beat", context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@with_appcontext
def beat(celery_args: tuple[str, ...]) -> None:
    """Start Celery beat, the scheduler of periodic jobs (extra arguments go to `celery beat`)."""
    # --quiet: no banner on stdout; beat says what it does in its (JSON) log lines.
    current_app.extensions["celery"].start(["--quiet", *_celery_argv("beat", celery_args)])


def _development() -> bool:
    return current_app.config["ENV"] in {"development", "test"}


@click.command("banner")
@with_appcontext
def banner() -> None:
    """Print where the service answers: the console, the admin API, and in development the demo
    and outbox."""
    base = current_app.config["PUBLIC_URL"]
    lines = []
    if _development():
        lines += [f"Demo signup page: {base}/", f"Outbox viewer:    {base}/dev/outbox"]
    lines += [
        f"Staff console:    {base}/admin/  (first account: .venv/bin/newsletter staff create "
        "you@example.org --role owner)",
        f"Admin API:        {base}/api/v1/  (create a key: .venv/bin/newsletter api-keys create me)",
        f"API docs:         {base}/docs  (Swagger UI: Authorize with the key, Try it out)",
        f"Readiness:        {base}/readyz",
        "Stop with Ctrl-C.",
    ]
    for line in lines:
        click.echo(json_line(__name__, line))


COMMANDS = [seed_demo_command, worker, beat, banner]
