"""`newsletter metrics clean`: empty the multiprocess metrics directory when the stack starts."""

from __future__ import annotations

import click

from service.metrics import processes


@click.group("metrics")
def metrics_group() -> None:
    """Prometheus metrics (GET /metrics with METRICS_TOKEN)."""


@metrics_group.command("clean")
def clean() -> None:
    """Delete every process's metric files in PROMETHEUS_MULTIPROC_DIR.

    Run it once before this host's processes start (the stack's start), never while they
    run: the counters of the running and the ended processes would be lost.
    """
    path = processes.directory()
    if path is None:
        click.echo("PROMETHEUS_MULTIPROC_DIR is unset: nothing to clean")
        return
    click.echo(f"{processes.clean(path)} metric files removed from {path}")


COMMANDS = [metrics_group]
