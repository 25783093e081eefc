"""Ops commands for webhook endpoints: add, rotate, list, remove, and each one's attempts."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from service.webhooks.endpoints import (
    InvalidEndpoint,
    add_endpoint,
    list_endpoints,
    recent_attempts,
    remove_endpoint,
    rotate_secret,
    secret_of,
)
from service.webhooks.events import EVENT_TYPES


@click.group("webhooks")
def webhooks() -> None:
    """Endpoints that receive signed events (Standard Webhooks)."""


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    required=True,
    type=click.Choice(list(EVENT_TYPES)),
    help="An event type to receive; repeat for several.",
)
@with_appcontext
def webhooks_add(url: str, events: tuple[str, ...]) -> None:
    """Send EVENTs to URL; prints the endpoint's id and its secret (shown once)."""
    try:
        endpoint = add_endpoint(url, list(events))
    except InvalidEndpoint as exc:
        raise click.BadParameter(exc.message, param_hint="'URL'") from None
    click.echo(f"webhook {endpoint.id}: {endpoint.url} ({', '.join(endpoint.events)})")
    click.echo(f"secret: {secret_of(endpoint)}")
    click.echo("Keep the secret: it verifies the signatures and is not shown again.")


@webhooks.command("rotate")
@click.argument("endpoint_id", metavar="ID", type=int)
@with_appcontext
def webhooks_rotate(endpoint_id: int) -> None:
    """Give endpoint ID a new secret (printed once); the old one also signs for 24 hours."""
    endpoint = rotate_secret(endpoint_id)
    if endpoint is None:
        raise click.ClickException(f"no webhook {endpoint_id}")
    click.echo(f"secret: {secret_of(endpoint)}")
    until = f"{endpoint.previous_secret_expires_at:%Y-%m-%d %H:%M} UTC"
    click.echo(f"The old secret signs too until {until}: switch the receiver over before then.")


@webhooks.command("list")
@with_appcontext
def webhooks_list() -> None:
    """Every endpoint, its events and whether it is enabled (never its secret)."""
    endpoints = list_endpoints()
    if not endpoints:
        click.echo("no webhooks")
    for endpoint in endpoints:
        state = "enabled"
        if endpoint.disabled_at is not None:
            state = f"disabled {endpoint.disabled_at:%Y-%m-%d %H:%M}: {endpoint.disabled_reason}"
        click.echo(f"{endpoint.id}\t{endpoint.url}\t{','.join(endpoint.events)}\t{state}")


@webhooks.command("remove")
@click.argument("endpoint_id", metavar="ID", type=int)
@with_appcontext
def webhooks_remove(endpoint_id: int) -> None:
    """Remove endpoint ID; its queued events are not sent."""
    if not remove_endpoint(endpoint_id):
        raise click.ClickException(f"no webhook {endpoint_id}")
    click.echo(f"removed webhook {endpoint_id}")


@webhooks.command("attempts")
@click.argument("endpoint_id", metavar="ID", type=int)
@with_appcontext
def webhooks_attempts(endpoint_id: int) -> None:
    """The latest delivery attempts to endpoint ID, newest first, with the answers."""
    attempts = recent_attempts(endpoint_id)
    if not attempts:
        click.echo(f"no attempts for webhook {endpoint_id}")
    for a in attempts:
        answer = str(a.status_code) if a.status_code is not None else a.error
        click.echo(
            f"{a.attempted_at:%Y-%m-%d %H:%M:%S}\t{a.event_type}\t{a.message_id}\t{a.outcome}\t"
            f"{answer}\t{a.duration_ms} ms\t{a.response_excerpt[:80]!r}"
        )


COMMANDS = [webhooks]
