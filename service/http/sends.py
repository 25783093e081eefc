"""Admin API for sends (CONTRACT §4): create, show, pause, resume, cancel."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from service.extensions import db
from service.http.auth import operator, require_scope
from service.http.errors import api_error
from service.models import Newsletter, Send
from service.paging import BadPage, decode_cursor, page_of, parse_limit
from service.sending import lifecycle, scheduling, summary
from service.sending.summary import STATUSES, send_json

bp = Blueprint("sends", __name__, url_prefix="/api/v1")
ARCHIVED = "This newsletter is archived and sends nothing; PATCH it with archived: false first."


@bp.post("/newsletters/<slug>/sends")
@require_scope("send")
def create_send(slug: str):
    """Schedule a send of newsletter `slug` at `scheduled_at` (ISO 8601), or now.

    A time without a zone is in the newsletter's time zone; a past time is a 422. A newsletter
    with no confirmed reader answers 422 `no_recipients` (nothing stored, nothing used up); an
    archived one 409 `newsletter_archived`; one that already has a scheduled, sending or paused
    send 409 `send_in_progress`.
    """
    newsletter = db.session.scalar(select(Newsletter).where(Newsletter.slug == slug))
    if newsletter is None:
        return api_error(404, "not_found", f"No newsletter {slug!r}.", field="slug")
    if newsletter.archived:
        return api_error(409, "newsletter_archived", ARCHIVED, field="slug")
    body = request.get_json(silent=True)
    if body is None and request.data:
        return api_error(400, "bad_request", "The body must be a JSON object.")
    body = {} if body is None else body
    if not isinstance(body, dict):
        return api_error(400, "bad_request", "The body must be a JSON object.")
    try:
        when = scheduling.parse_when(body.get("scheduled_at"), newsletter.timezone)
    except scheduling.InvalidTime as exc:
        return api_error(422, "invalid", f"scheduled_at: {exc}.", field="scheduled_at")
    try:
        send = scheduling.create_send(newsletter, when, actor=operator())
    except scheduling.NoRecipients as exc:
        return api_error(422, "no_recipients", f"{exc}.", pending=exc.pending)
    except scheduling.SendInProgress as exc:
        return api_error(
            409,
            "send_in_progress",
            f"{exc}; wait for it to end, or cancel it with POST /api/v1/sends/{exc.send.id}/cancel.",
            send_id=exc.send.id,
            send_status=exc.send.status,
        )
    return jsonify(id=send.id, status=send.status), 201


def _get(send_id: int) -> Send | None:
    return db.session.get(Send, send_id, populate_existing=True)


@bp.get("/sends")
@require_scope("read")
def list_sends():
    """List sends, newest first, filtered by `newsletter` (slug) and `status`.

    Paged: `limit` (1-500, default 50) and the `cursor` of the previous answer's `next`.
    """
    try:
        limit = parse_limit(request.args.get("limit"))
        before = decode_cursor(request.args.get("cursor"), int)
    except BadPage as exc:
        return api_error(422, "invalid", str(exc), exc.field)
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        return api_error(422, "invalid", "status is one of: " + ", ".join(STATUSES), "status")
    newsletter_id = None
    if request.args.get("newsletter"):
        slug = request.args["newsletter"][:100]
        newsletter_id = db.session.scalar(select(Newsletter.id).where(Newsletter.slug == slug))
        if newsletter_id is None:
            return api_error(422, "invalid", f"No newsletter {slug!r}.", "newsletter")
    rows = summary.list_sends(newsletter_id, status, before[0] if before else None, limit + 1)
    shown, cursor = page_of(rows, limit, lambda send: (send.id,))
    body = {"sends": [send_json(s) for s in shown], "next": cursor}
    db.session.commit()
    return jsonify(body)


@bp.get("/sends/<int:send_id>")
@require_scope("read")
def show_send(send_id: int):
    """A send's status, counters and times."""
    send = _get(send_id)
    if send is None:
        return api_error(404, "not_found", f"No send {send_id}.")
    body = send_json(send)
    db.session.commit()
    return jsonify(body)


ACTIONS = {
    "pause": lifecycle.pause_send,
    "resume": lifecycle.resume_send,
    "cancel": lifecycle.cancel_send,
}


@bp.post("/sends/<int:send_id>/<any(pause, resume, cancel):action>")
@require_scope("send")
def control_send(send_id: int, action: str):
    """Pause, resume or cancel a send; 409 if its status does not allow it."""
    if _get(send_id) is None:
        return api_error(404, "not_found", f"No send {send_id}.")
    db.session.commit()
    try:
        send = ACTIONS[action](send_id, actor=operator())
    except lifecycle.InvalidTransition as exc:
        return api_error(409, "invalid_state", f"Cannot {action}: {exc}.")
    return jsonify(send_json(send))
