"""Readers in the console: search and filter them, open one (subscriptions, consent, timeline),
export a newsletter's list as CSV, erase a reader after asking. The same service functions as
`GET /api/v1/subscribers`, its timeline and `DELETE /api/v1/subscribers/<id>`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, abort, flash, redirect, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user

from service import audit
from service.console import bp
from service.console.auth import action_form, requires
from service.console.pages import render
from service.extensions import db
from service.lists.browse import STATUSES, FilterInvalid, browse_readers, reader_filter
from service.lists.newsletters import get_newsletter, list_newsletters
from service.lists.subscribers import erase_subscriber, export_rows
from service.lists.timeline import consent_state, timeline_page
from service.models import Subscriber

PAGE = 50
TIMELINE = 100
SEARCH_FIELDS = (
    "email_prefix",
    "newsletter",
    "status",
    "source",
    "created_after",
    "created_before",
)


def _reader_or_404(subscriber_id: int) -> Subscriber:
    reader = db.session.get(Subscriber, subscriber_id)
    if reader is None:
        abort(404)
    return reader


@bp.get("/readers")
def readers():
    """Readers matching the filters, in pages of fifty in signup order."""
    args = {name: request.args[name] for name in SEARCH_FIELDS if request.args.get(name)}
    after = request.args.get("after", "0")
    after_id = int(after) if after.isdigit() and len(after) < 19 else 0
    problem = None
    try:
        found = browse_readers(reader_filter(args), after_id, PAGE + 1)
    except FilterInvalid as exc:
        found, problem = [], str(exc)
    more = len(found) > PAGE
    page_rows = found[:PAGE]
    return render(
        "console/readers.html",
        status=400 if problem else 200,
        readers=page_rows,
        args=args,
        problem=problem,
        next_after=page_rows[-1].id if more else None,
        newsletters=list_newsletters(),
        statuses=STATUSES,
        member=current_user,
    )


@bp.get("/readers/<int:subscriber_id>")
def reader(subscriber_id: int):
    """One reader: each subscription with its consent, and the newest hundred events."""
    found = _reader_or_404(subscriber_id)
    entries = [entry for _position, entry in timeline_page(found, None, TIMELINE)]
    return render("console/reader.html", reader=found, subscriptions=consent_state(found),
                  timeline=entries, member=current_user, form=action_form())  # fmt: skip


@bp.get("/readers/<int:subscriber_id>/erase")
@requires("write")
def confirm_erase(subscriber_id: int):
    """Ask before erasing: it cannot be undone."""
    return render("console/confirm_erase.html", reader=_reader_or_404(subscriber_id), form=action_form())  # fmt: skip


@bp.post("/readers/<int:subscriber_id>/erase")
@requires("write")
def erase(subscriber_id: int):
    """Erase the reader (everything but their address's hash, kept so they are never mailed)."""
    erase_subscriber(
        _reader_or_404(subscriber_id), actor=audit.Actor("console", current_user.email)
    )
    flash(
        _(
            "Reader %(id)s erased; only a hash of the address is kept, as a suppression.",
            id=subscriber_id,
        )
    )
    return redirect(url_for("console.readers"))


@bp.get("/newsletters/<slug>/export.csv")
def export(slug: str):
    """The newsletter's readers as CSV, streamed (memory does not grow with the list)."""
    newsletter = get_newsletter(slug)
    if newsletter is None:
        abort(404)
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        abort(400)

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row in export_rows(newsletter, status):
            writer.writerow(row)
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    headers = {"Content-Disposition": f'attachment; filename="{newsletter.slug}.csv"'}
    return Response(stream_with_context(lines()), mimetype="text/csv", headers=headers)
