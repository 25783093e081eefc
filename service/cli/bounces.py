"""`newsletter bounces serve`: the inbound SMTP server for bounce mail (VERP addresses)."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from service.bounces import inbound
from service.mail.verp import verp


@click.group("bounces")
def bounces() -> None:
    """Bounce mail coming back to the digests' VERP addresses."""


@bounces.command("serve")
@click.option("--host", default=None, help="Address to listen on [BOUNCE_SMTP_HOST, 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port to listen on [BOUNCE_SMTP_PORT, 2525].")  # fmt: skip
@with_appcontext
def bounces_serve(host: str | None, port: int | None) -> None:
    """Receive delivery reports and complaints for bounces+...@BOUNCE_DOMAIN until stopped
    (SIGTERM or Ctrl-C); anything addressed otherwise is refused with 550."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    addresses = verp()
    if addresses is None:
        raise click.ClickException(
            "BOUNCE_DOMAIN is not set: digests go out from the From address and no bounce "
            "mail comes here. Set BOUNCE_DOMAIN (its MX pointing at this host) first."
        )
    host = host or app.config["BOUNCE_SMTP_HOST"]
    port = port or app.config["BOUNCE_SMTP_PORT"]
    try:
        controller = inbound.serve(app, addresses, host, port)
    except (OSError, RuntimeError) as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"bounces: listening on {host}:{port} for bounces+...@{addresses.domain}")
    try:
        stop.wait()
    finally:
        controller.stop()
        controller.handler.close()
    click.echo("bounces: stopped")


COMMANDS = [bounces]
