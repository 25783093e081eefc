"""Ops commands for sends: `digest send SLUG [--at ISO] [--wait]` and `sends list|show|...`."""

from __future__ import annotations

import signal
import threading
import time
from zoneinfo import ZoneInfo

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from service import audit
from service.cli.slugs import newsletter_or_fail
from service.extensions import db
from service.models import Send, SendStatus, utcnow
from service.sending import lifecycle, scheduling, summary

FINAL = {SendStatus.SENT, SendStatus.CANCELLED, SendStatus.SKIPPED, SendStatus.FAILED}


def _load(send_id: int) -> Send:
    send = db.session.get(Send, send_id, populate_existing=True)
    if send is None:
        raise click.ClickException(f"no send {send_id}")
    return send


def _done(send: Send) -> int:
    return send.sent + send.failed + send.skipped


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {seconds:02d}s"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def pace(send: Send) -> str:
    """The send's average rate and duration, from its start to its end (or to now)."""
    if send.started_at is None:
        return "not started"
    if send.status == SendStatus.PAUSED:
        return "paused"
    end = send.finished_at or utcnow()
    seconds = max((end - send.started_at).total_seconds(), 0.001)
    rate = _done(send) / seconds
    shown = f"{rate:.1f}" if rate < 10 else f"{rate:,.0f}"
    verb = "took" if send.finished_at else "running for"
    return f"{shown}/s on average, {verb} {_duration(seconds)}"


def follow(send_id: int, *, wait: bool = True, interval: float = 0.5) -> Send:
    """Draw a progress bar until the send ends (or once, if not `wait`), then its pace.

    A send that has ended gets no bar, only its totals and pace.
    """
    send = _load(send_id)
    if send.status in FINAL:
        click.echo(_summary(send))
        return send
    if wait and threading.current_thread() is threading.main_thread():
        # Ctrl-C stops the watching even when this was started with SIGINT ignored (as a
        # shell's background job, or by a parent that ignores it): the default is restored.
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def label(item: Send | None) -> str:
        if item is None:
            return ""
        return f"{item.status} sent={item.sent} failed={item.failed}"

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
    click.echo(_summary(send))
    return send


def _summary(send: Send) -> str:
    return (
        f"{_done(send)}/{send.total} done (sent {send.sent}, failed {send.failed}, "
        f"skipped {send.skipped}), {pace(send)}"
    )


@click.group("digest")
def digest() -> None:
    """Digest commands."""


@digest.command("send")
@click.argument("slug")
@click.option(
    "--at",
    "at",
    help="ISO 8601 time to send at (default: now); without a zone, in the newsletter's zone.",
)
@click.option("--wait", is_flag=True, help="Show progress until the send ends; exit 0 if sent.")
@with_appcontext
def digest_send(slug: str, at: str | None, wait: bool) -> None:
    """Send newsletter SLUG's digest now or --at a time.

    Refused (exit 1) when the newsletter has no confirmed reader, is archived, or has another
    send scheduled, sending or paused; a time in the past is a usage error.
    """
    newsletter = newsletter_or_fail(slug, "'SLUG'")
    if newsletter.archived:
        raise click.ClickException(
            f"not sent: {slug} is archived; `newsletter newsletters update {slug} --unarchive` first"
        )
    try:
        when = scheduling.parse_when(at, newsletter.timezone)
    except scheduling.InvalidTime as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None
    try:
        send = scheduling.create_send(newsletter, when, actor=audit.cli_actor())
    except scheduling.NoRecipients as exc:
        raise click.ClickException(f"not sent: {exc}") from None
    except scheduling.SendInProgress as exc:
        other = exc.send.id
        raise click.ClickException(
            f"not sent: {exc}. Follow it with `newsletter sends show {other} --wait`, "
            f"or cancel it with `newsletter sends cancel {other}`."
        ) from None
    zone = ZoneInfo(newsletter.timezone or "UTC")
    local = send.scheduled_at.astimezone(zone)
    try:  # from here on, Ctrl-C only stops the watching
        click.echo(
            f"send {send.id}: {send.status} at {local:%Y-%m-%d %H:%M} {zone.key} "
            f"({send.scheduled_at:%H:%M} UTC)"
        )
        if wait:
            send = follow(send.id)
    except KeyboardInterrupt:
        click.echo(
            f"\nstopped watching; send {send.id} goes on in the workers. Watch it again: "
            f"`newsletter sends show {send.id} --wait`; pause it: `newsletter sends pause "
            f"{send.id}`; cancel it: `newsletter sends cancel {send.id}`.",
            err=True,
        )
        raise SystemExit(130) from None
    if wait:
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
    """The most recent sends, newest first."""
    rows = db.session.scalars(select(Send).order_by(Send.id.desc()).limit(limit)).all()
    if not rows:
        click.echo(
            "no sends yet; start one with `newsletter digest send SLUG` "
            "(slugs: `newsletter newsletters list`)"
        )
        return
    click.echo(f"{'ID':>6}  {'NEWSLETTER':<24} {'STATUS':<10} {'DONE/TOTAL':<11} SCHEDULED (UTC)")
    for send in rows:
        reason = f"  {send.status_reason}" if send.status_reason else ""
        click.echo(
            f"{send.id:>6}  {send.newsletter.slug:<24} {send.status:<10} "
            f"{f'{_done(send)}/{send.total}':<11} {send.scheduled_at:%Y-%m-%d %H:%M}{reason}"
        )


@sends.command("show")
@click.argument("send_id", type=int)
@click.option("--wait", is_flag=True, help="Follow the progress until the send ends.")
@with_appcontext
def sends_show(send_id: int, wait: bool) -> None:
    """A send's status and counters, with a progress bar."""
    send = follow(send_id, wait=wait)
    shown = {**_columns(send), **summary.progress(send), **summary.deliverability(send)}
    for key, value in shown.items():
        if key == "rates":  # of the messages handed over; complaints of those delivered
            value = ", ".join(f"{name} {summary.percent(rate)}" for name, rate in value.items())
        if key == "failed_batches":  # parked batches: one line each, with the error
            for batch in value:
                click.echo(
                    f"{'failed batch':>13}: {batch['id']} (readers {batch['readers_after_id']}"
                    f" < id <= {batch['readers_upto_id']}, {batch['failures']} failures):"
                    f" {batch['error']}"
                )
            continue
        click.echo(f"{key:>13}: {value}")


SHOWN = ("id", "status", "status_reason", "subject", "total", "sent", "failed", "skipped",
         "scheduled_at", "started_at", "finished_at", "possible_duplicates")  # fmt: skip


def _columns(send: Send) -> dict:
    """A send's stored figures as `sends show` prints them (times in ISO 8601)."""
    shown = {key: getattr(send, key) for key in SHOWN}
    shown = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in shown.items()}
    return {"id": shown.pop("id"), "newsletter": send.newsletter.slug, **shown}


def _control(action: str, send_id: int) -> None:
    _load(send_id)
    db.session.commit()
    try:
        send = getattr(lifecycle, f"{action}_send")(send_id, actor=audit.cli_actor())
    except lifecycle.InvalidTransition as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"send {send.id}: {send.status}")


@sends.command("pause")
@click.argument("send_id", type=int)
@with_appcontext
def sends_pause(send_id: int) -> None:
    """Pause a send (its batches stop within a few messages; the counts shown are final)."""
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
    """Cancel a send for good (readers it never reached are counted as skipped)."""
    _control("cancel", send_id)


COMMANDS = [digest, sends]
