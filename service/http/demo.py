"""Development only: the demo article page with signup boxes, and the outbox viewer (the list,
searchable by address or subject; one email with its headers, its text part with the links
clickable and its HTML part framed below, its links opening on top; a way back at each step)."""

from __future__ import annotations

import email
import email.message
import email.parser
import email.policy
import re
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from sqlalchemy import select

from service.config import ROOT
from service.extensions import db
from service.http.errors import page, request_locale
from service.http.public.hosted import hosted_form_context
from service.models import Newsletter

bp = Blueprint("demo", __name__)
OUTBOX_PAGE = 100
# A link in a text email: http(s) up to a space or quote, not ending in the punctuation after it.
_URL = re.compile(r"https?://[^\s<>\"']*[^\s<>\"'.,;:!?)\]}]")
_HEAD = re.compile(r"<head(?:\s[^>]*)?>", re.IGNORECASE)


def _outbox_dir() -> Path:
    url = current_app.config["MAIL_URL"]
    if not url.startswith("file://"):
        abort(404)
    path = url[len("file://") :]
    return Path(path) if path.startswith("/") else ROOT / path


@bp.get("/")
def article():
    """A sample article page carrying signup boxes, as the news site would."""
    newsletters = db.session.scalars(select(Newsletter).order_by(Newsletter.id)).all()
    return page(
        "pages/demo_article.html",
        newsletters=newsletters,
        locale=request_locale(request.args.get("locale")),  # the boxes follow its <html lang>
        **hosted_form_context(),
    )[0]


def _read_message(path: Path, headers_only: bool = False) -> email.message.EmailMessage:
    with path.open("rb") as handle:
        if headers_only:
            parser = email.parser.BytesHeaderParser(policy=email.policy.default)
            return parser.parse(handle)  # type: ignore[return-value]
        return email.message_from_binary_file(handle, policy=email.policy.default)  # type: ignore[return-value]


def _summary(path: Path, message: email.message.Message) -> dict[str, str]:
    return {
        "name": path.name,
        "subject": str(message["Subject"] or ""),
        "to": str(message["To"] or ""),
        "date": str(message["Date"] or ""),
    }


@bp.get("/dev/outbox")
def outbox():
    """The emails written to the file outbox, newest first, a page at a time; `?q=` searches
    the To address and the subject."""
    directory = _outbox_dir()
    files = sorted(directory.glob("*.eml"), reverse=True) if directory.exists() else []
    total = len(files)
    query = (request.args.get("q") or "").strip()
    page = request.args.get("page", default=1, type=int) or 1
    if query:
        needle = query.lower()
        matches = []
        for path in files:
            message = _read_message(path, headers_only=True)
            if needle in f"{message['To'] or ''}\n{message['Subject'] or ''}".lower():
                matches.append((path, message))
        found = len(matches)
        page = max(1, min(page, max(1, -(-found // OUTBOX_PAGE))))
        shown = matches[(page - 1) * OUTBOX_PAGE : page * OUTBOX_PAGE]
        items = [_summary(path, message) for path, message in shown]
    else:
        found = total
        page = max(1, min(page, max(1, -(-found // OUTBOX_PAGE))))
        shown_paths = files[(page - 1) * OUTBOX_PAGE : page * OUTBOX_PAGE]
        items = [_summary(p, _read_message(p, headers_only=True)) for p in shown_paths]
    first = (page - 1) * OUTBOX_PAGE + 1 if items else 0
    return render_template(
        "pages/outbox.html",
        items=items,
        total=total,
        found=found,
        query=query,
        page=page,
        first=first,
        last=first + len(items) - 1 if items else 0,
        has_previous=page > 1,
        has_next=page * OUTBOX_PAGE < found,
        directory=directory,
        locale="en",
    )


def _message_path(name: str) -> Path:
    path = _outbox_dir() / Path(name).name
    if not path.is_file() or path.suffix != ".eml":
        abort(404)
    return path


def linked(text: str) -> list[tuple[str, bool]]:
    """`text` in pieces, each http(s) URL marked True, for a page to show with its links."""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for match in _URL.finditer(text):
        if match.start() > at:
            pieces.append((text[at : match.start()], False))
        pieces.append((match.group(), True))
        at = match.end()
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces


@bp.get("/dev/outbox/<name>")
def outbox_message(name: str):
    """One email as a newcomer checks it: every header, the text part with its links, the HTML
    part framed, and the way back to the list as it was (`q`, `page`)."""
    message = _read_message(_message_path(name))
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    query = (request.args.get("q") or "").strip()
    page = request.args.get("page", default=1, type=int) or 1
    return render_template(
        "pages/outbox_message.html",
        name=Path(name).name,
        headers=[(key, str(value)) for key, value in message.items()],
        subject=str(message["Subject"] or ""),
        text=linked(text_part.get_content()) if text_part else None,
        has_html=html_part is not None,
        back=url_for("demo.outbox", q=query or None, page=page if page > 1 else None),
        locale="en",
    )


@bp.get("/dev/outbox/<name>/html")
def outbox_message_html(name: str):
    """One email's HTML part, as a mail client would show it (its own scripts never run)."""
    message = _read_message(_message_path(name))
    part = message.get_body(("html", "plain"))
    body = part.get_content() if part else ""
    mimetype = "text/html" if part and part.get_content_type() == "text/html" else "text/plain"
    if mimetype == "text/html":  # shown framed: its links open on top, as a mail client's do
        head = _HEAD.search(body)
        at = head.end() if head else 0
        body = body[:at] + '<base target="_top">' + body[at:]
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src * data:; style-src 'unsafe-inline'"
    )
    return response
