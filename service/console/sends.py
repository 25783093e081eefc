"""Sends in the console: schedule one, watch it go out, pause, resume or cancel it, read its
report. The same service functions as `POST /api/v1/sends/<id>/pause` and its siblings, with
the member in the audit log."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from service import audit
from service.console import bp
from service.console.auth import action_form, requires
from service.console.clock import in_words
from service.console.figures import send_view
from service.console.pages import render
from service.console.schedule import nobody_yet
from service.deliverability import report
from service.extensions import db
from service.lists.newsletters import get_newsletter
from service.models import Send
from service.sending import lifecycle, scheduling, summary

ACTIONS = {
    "pause": lifecycle.pause_send,
    "resume": lifecycle.resume_send,
    "cancel": lifecycle.cancel_send,
}


DONE = {
    "pause": lambda send_id: _("Send #%(id)s paused: nobody else is mailed until you resume it.", id=send_id),
    "resume": lambda send_id: _("Send #%(id)s resumed.", id=send_id),
    "cancel": lambda send_id: _("Send #%(id)s cancelled.", id=send_id),
}  # fmt: skip


def _actor() -> audit.Actor:
    return audit.Actor("console", current_user.email)


def _send_or_404(send_id: int) -> Send:
    send = db.session.get(Send, send_id)
    if send is None:
        abort(404)
    return send


@bp.get("/sends/<int:send_id>")
def send_report(send_id: int):
    """One send: its counts, its state, what came back (bounces, complaints, the relay's
    answers to failures) and the buttons the member's role allows."""
    row = _send_or_404(send_id)
    return render("console/send.html", send=send_view(row), feedback=summary.deliverability(row),
                  failures=report.failure_answers(send_id), member=current_user,
                  newsletter=row.newsletter, when=in_words(row.scheduled_at, row.newsletter.timezone),
                  form=action_form())  # fmt: skip


@bp.get("/sends/<int:send_id>/progress")
def send_progress(send_id: int):
    """The progress bar alone (htmx swaps it in every two seconds while the send runs)."""
    send = send_view(_send_or_404(send_id))
    return render("console/_progress.html", send=send)


@bp.get("/sends/<int:send_id>/live")
def send_live(send_id: int):
    """The changing part of a send's page (htmx reloads it every two seconds while it runs)."""
    send = send_view(_send_or_404(send_id))
    return render("console/_send_live.html", send=send, member=current_user)


@bp.get("/sends/<int:send_id>/cancel")
@requires("send")
def confirm_cancel(send_id: int):
    """Ask before cancelling: a cancelled send cannot be resumed."""
    send = send_view(_send_or_404(send_id))
    return render("console/confirm_cancel.html", send=send, form=action_form())


@bp.post("/sends/<int:send_id>/<any(pause, resume, cancel):action>")
@requires("send")
def control_send(send_id: int, action: str):
    """Pause, resume or cancel a send as the member (in the audit log)."""
    _send_or_404(send_id)
    try:
        ACTIONS[action](send_id, actor=_actor())
    except lifecycle.InvalidTransition as exc:
        flash(_("Not done: %(reason)s.", reason=str(exc)), "error")
    else:
        flash(DONE[action](send_id))
    return redirect(url_for("console.send_report", send_id=send_id))


@bp.post("/newsletters/<slug>/send-now")
@requires("send")
def send_now(slug: str):
    """Start a one-off send of the newsletter now."""
    newsletter = get_newsletter(slug)
    if newsletter is None:
        abort(404)
    try:
        send = scheduling.create_send(newsletter, actor=_actor())
    except scheduling.NoRecipients:
        flash(nobody_yet(), "error")
        return redirect(url_for("console.dashboard"))
    except scheduling.SendInProgress as exc:
        flash(_("This newsletter has a send in progress already."), "error")
        return redirect(url_for("console.send_report", send_id=exc.send.id))
    return redirect(url_for("console.send_report", send_id=send.id))
