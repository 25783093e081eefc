"""Admin API for sends (CONTRACT §4): create, show, pause, resume, cancel."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from service.extensions import db
from service.http.auth import operator
from service.http.contract import endpoint
from service.http.errors import api_error
from service.http.schemas.common import SlugPath
from service.http.schemas.deliverability import SendDetail
from service.http.schemas.sends import (
    ControlPath,
    Send,
    SendCreated,
    SendList,
    SendPath,
    SendQuery,
    SendRequest,
)
from service.models import Newsletter
from service.models import Send as StoredSend
from service.paging import BadPage, decode_cursor, page_of
from service.sending import batches, lifecycle, scheduling, summary

bp = Blueprint("sends", __name__, url_prefix="/api/v1")
ARCHIVED = "This newsletter is archived and sends nothing; PATCH it with archived: false first."
_SEND = {"send_id": "$response.body#/id"}
_FIRST_SEND = {"send_id": "$response.body#/sends/0/id"}
_FOLLOW = {
    "ShowSend": ("sends.show_send.get", _SEND),
    "PauseSend": ("sends.control_send.post.pause", _SEND),
    "CancelSend": ("sends.control_send.post.cancel", _SEND),
}


@bp.post("/newsletters/<slug>/sends")
@endpoint(
    "send",
    path=SlugPath,
    body=SendRequest,
    body_required=False,
    answers={201: SendCreated},
    errors={
        404: "no such newsletter",
        409: "`send_in_progress`: the newsletter already has a send scheduled, sending or "
        "paused; the answer names it; or `newsletter_archived`",
        422: "`invalid`: `scheduled_at` is not an ISO 8601 time, or in the past; "
        "`no_recipients`: the newsletter has no confirmed reader (nothing stored, no article "
        "used up; `pending` counts the readers waiting to confirm)",
    },
    links={201: _FOLLOW},
)
def create_send(slug: str, body: SendRequest):
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
    try:
        when = scheduling.parse_when(body.scheduled_at, newsletter.timezone)
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
    return SendCreated(id=send.id, status=send.status), 201


def _get(send_id: int) -> StoredSend | None:
    return db.session.get(StoredSend, send_id, populate_existing=True)


@bp.get("/sends")
@endpoint(
    "read",
    query=SendQuery,
    answers={200: SendList},
    errors={
        422: "`invalid`: `status`, `limit` or `cursor` (named in `field`); an unknown `newsletter`"
    },
    links={200: {name: (target, _FIRST_SEND) for name, (target, _) in _FOLLOW.items()}},
)
def list_sends(query: SendQuery):
    """List sends, newest first, filtered by `newsletter` (slug) and `status`.

    Paged: `limit` and the `cursor` of the previous answer's `next`.
    """
    try:
        before = decode_cursor(query.cursor, int)
    except BadPage as exc:
        return api_error(422, "invalid", str(exc), exc.field)
    newsletter_id = None
    if query.newsletter:
        slug = query.newsletter[:100]
        newsletter_id = db.session.scalar(select(Newsletter.id).where(Newsletter.slug == slug))
        if newsletter_id is None:
            return api_error(422, "invalid", f"No newsletter {slug!r}.", "newsletter")
    rows = summary.send_rows(
        newsletter_id, query.status, before[0] if before else None, query.limit + 1
    )
    shown, cursor = page_of(rows, query.limit, lambda row: (row.id,))
    parked = batches.parked_batches_of([row.id for row in shown])  # one query for the page
    sends = [
        Send.of(row, parked=parked[row.id], skipped=row.articles_skipped or {}) for row in shown
    ]
    body = SendList(sends=sends, next=cursor)
    db.session.commit()
    return body


@bp.get("/sends/<int:send_id>")
@endpoint("read", path=SendPath, answers={200: SendDetail}, errors={404: "no such send"})
def show_send(send_id: int):
    """A send's status, counters and times, and what came back about it (bounces, complaints,
    unsubscribes and their rates; why it is paused; a complaint-rate warning)."""
    send = _get(send_id)
    if send is None:
        return api_error(404, "not_found", f"No send {send_id}.")
    body = SendDetail.of(send)
    db.session.commit()
    return body


ACTIONS = {
    "pause": lifecycle.pause_send,
    "resume": lifecycle.resume_send,
    "cancel": lifecycle.cancel_send,
}


@bp.post("/sends/<int:send_id>/<any(pause, resume, cancel):action>")
@endpoint(
    "send",
    path=ControlPath,
    answers={200: Send},
    errors={404: "no such send", 409: "`invalid_state`: the send's status does not allow this"},
)
def control_send(send_id: int, action: str):
    """Pause, resume or cancel a send; 409 if its status does not allow it."""
    if _get(send_id) is None:
        return api_error(404, "not_found", f"No send {send_id}.")
    db.session.commit()
    try:
        send = ACTIONS[action](send_id, actor=operator())
    except lifecycle.InvalidTransition as exc:
        return api_error(409, "invalid_state", f"Cannot {action}: {exc}.")
    return Send.of(send)
