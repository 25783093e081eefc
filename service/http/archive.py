"""Public archive: past sent issues of a newsletter, and each issue as a web page.

Only a listed newsletter (public, not archived) has an archive, and it shows only issues
that reached someone: a send that delivered to nobody is no issue.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, url_for
from sqlalchemy import select

from service.extensions import db
from service.http.contract import hosted
from service.http.errors import page
from service.models import Newsletter, Send, SendStatus
from service.sending.personalize import Placeholders

bp = Blueprint("archive", __name__, url_prefix="/archive")

# The stored issue is our own rendered HTML; still, no scripts, no frames, no forms.
ISSUE_CSP = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'"
)


def public_copy(send: Send, slug: str) -> str:
    """The stored issue without per-reader placeholders: their links lead to the archive."""
    base = current_app.config["PUBLIC_URL"]
    archive = url_for("archive.index", slug=slug, _external=False)
    placeholders = Placeholders.stored_in(send.content)
    body_html = send.body_html
    for path, token in (
        ("unsubscribe", placeholders.unsubscribe),
        ("preferences", placeholders.preferences),
    ):
        body_html = body_html.replace(f"{base}/{path}/{token}", f"{base}{archive}")
    return body_html


def _newsletter(slug: str) -> Newsletter:
    newsletter = db.session.scalar(
        select(Newsletter).where(Newsletter.slug == slug, Newsletter.listed())
    )
    if newsletter is None:
        abort(404)
    return newsletter


def distinct_issues(sends: list[Send]) -> list[Send]:
    """`sends` (newest first) without repeats: an issue whose articles all went out before.

    Since migration 0005 a newsletter cannot send the same digest twice; databases from
    before it may hold such repeats, and the archive lists each digest once (the first).
    """
    seen: set[int] = set()
    kept: list[Send] = []
    for send in reversed(sends):
        articles = set((send.content or {}).get("article_ids") or [])
        if articles and articles <= seen:
            continue
        seen |= articles
        kept.append(send)
    return kept[::-1]


@bp.get("/<slug>")
@hosted()
def index(slug: str):
    """The newsletter's sent issues that reached someone, newest first, each digest once."""
    newsletter = _newsletter(slug)
    sends = db.session.scalars(
        select(Send)
        .where(Send.newsletter_id == newsletter.id, Send.status == SendStatus.SENT, Send.sent > 0)
        .order_by(Send.started_at.desc(), Send.id.desc())
        .limit(200)
    ).all()
    return page("pages/archive.html", newsletter=newsletter, sends=distinct_issues(sends))


@bp.get("/<slug>/<int:send_id>")
@hosted()
def issue(slug: str, send_id: int):
    """One sent issue as a web page (the email's own HTML)."""
    newsletter = _newsletter(slug)
    send = db.session.get(Send, send_id)
    if (
        send is None
        or send.newsletter_id != newsletter.id
        or send.status != SendStatus.SENT
        or not send.sent  # it went to nobody
    ):
        abort(404)
    if not send.body_html:
        return page("pages/archive_issue.html", newsletter=newsletter, send=send)
    response = Response(public_copy(send, slug), mimetype="text/html")
    response.headers["Content-Security-Policy"] = ISSUE_CSP
    return response
