"""Ops commands for sends: `digest send SLUG [--at ISO] [--wait]` and `sends list|show|...`."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from service.extensions import db
from service.http.sends import parse_when, send_json
from service.models import Newsletter, Send, SendStatus
from service.sending import lifecycle, scheduling

FINAL = {SendStatus.SENT, SendStatus.CANCELLED, SendStatus.SKIPPED, SendStatus.FAILED}


def _load(send_id: int) -> Send:
    send = db.session.get(Send, send_id, populate_existing=True)
    if send is None:
        raise click.ClickException(f"no send {send_id}")
    return send


def _done(send: Send) -> int:
    return send.sent + send.failed + send.skipped


def follow(send_id: int, *, wait: bool = True, interval: float = 0.5) -> Send:
    """Draw a progress bar with rate and ETA until the send ends (or once, if not `wait`)."""
    send = _load(send_id)
    started, first = time.monotonic(), _done(send)

    def label(item: Send | None) -> str:
        if item is None:
            return ""
        rate = (_done(item) - first) / max(0.001, time.monotonic() - started)
        return f"{item.status} sent={item.sent} failed={item.failed} {rate:.0f}/s"

    with click.progressbar(
        length=max(1, send.total), label=f"send {send_id}", item_show_func=label, show_pos=True
    ) as bar:
        shown = 0
        while True:
            send = _load(send_id)
            db.session.commit()
            if send.total and bar.length != send.total:
                bar.length = send.total
            bar.update(max(0, _done(send) - shown), send)
            shown = max(shown, _done(send))
            if send.status in FINAL or not wait:
                break
            time.sleep(interval)
    elapsed = time.monotonic() - started
    click.echo(
        f"{_done(send)}/{send.total} done (sent {send.sent}, failed {send.failed}, "
        f"skipped {send.skipped}), {(_done(send) - first) / max(elapsed, 0.001):.0f}/s"
    )
    return send


@click.group("digest")
def digest() -> None:
    """Digest commands."""


@digest.command("send")
@click.argument("slug")
@click.option("--at", "at", help="ISO 8601 time to send at (default: now).")
@click.option("--wait", is_flag=True, help="Show progress until the send ends; exit 0 if sent.")
@with_appcontext
def digest_send(slug: str, at: str | None, wait: bool) -> None:
    """Send newsletter SLUG's digest now or --at a time."""
    newsletter = db.session.scalar(select(Newsletter).where(Newsletter.slug == slug))
    if newsletter is None:
        raise click.ClickException(f"no newsletter {slug!r}")
    try:
        when = parse_when(at)
    except ValueError as exc:
        raise click.BadParameter("an ISO 8601 time, e.g. 2026-12-01T07:00+02:00", "--at") from exc
    send = scheduling.create_send(newsletter, when)
    click.echo(f"send {send.id}: {send.status} at {send.scheduled_at.isoformat()}")
    if wait:
        send = follow(send.id)
        click.echo(f"send {send.id}: {send.status} {send.status_reason}".rstrip())
        if send.status != SendStatus.SENT:
            raise SystemExit(1)


@click.group("sends")
def sends() -> None:
    """Inspect and control sends."""


@sends.command("list")
@click.option("--limit", default=20, show_default=True)
@with_appcontext
def sends_list(limit: int) -> None:
    """The most recent sends."""
    rows = db.session.scalars(select(Send).order_by(Send.id.desc()).limit(limit)).all()
    for send in rows:
        click.echo(
            f"{send.id:>6}  {send.newsletter.slug:<24} {send.status:<10} "
            f"{_done(send)}/{send.total}  {send.scheduled_at:%Y-%m-%d %H:%M}Z"
        )


@sends.command("show")
@click.argument("send_id", type=int)
@click.option("--wait", is_flag=True, help="Follow the progress until the send ends.")
@with_appcontext
def sends_show(send_id: int, wait: bool) -> None:
    """A send's status and counters, with a progress bar."""
    send = follow(send_id, wait=wait)
    for key, value in send_json(send).items():
        if key == "failed_batches":  # parked batches: one line each, with the error
            for batch in value:
                click.echo(
                    f"{'failed batch':>13}: {batch['id']} (readers {batch['readers_after_id']}"
                    f" < id <= {batch['readers_upto_id']}, {batch['failures']} failures):"
                    f" {batch['error']}"
                )
            continue
        click.echo(f"{key:>13}: {value}")


def _control(action: str, send_id: int) -> None:
    _load(send_id)
    db.session.commit()
    try:
        send = getattr(lifecycle, f"{action}_send")(send_id)
    except lifecycle.InvalidTransition as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"send {send.id}: {send.status}")


@sends.command("pause")
@click.argument("send_id", type=int)
@with_appcontext
def sends_pause(send_id: int) -> None:
    """Pause a send (its batches stop within seconds)."""
    _control("pause", send_id)


@sends.command("resume")
@click.argument("send_id", type=int)
@with_appcontext
def sends_resume(send_id: int) -> None:
    """Resume a paused send."""
    _control("resume", send_id)


@sends.command("cancel")
@click.argument("send_id", type=int)
@with_appcontext
def sends_cancel(send_id: int) -> None:
    """Cancel a send for good."""
    _control("cancel", send_id)


COMMANDS = [digest, sends]
