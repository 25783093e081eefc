"""Development only: the demo article page with signup boxes, and the outbox viewer."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template
from sqlalchemy import select

from service.config import ROOT
from service.extensions import db
from service.http.errors import request_locale
from service.http.public import hosted_form_context
from service.i18n import t
from service.models import Newsletter

bp = Blueprint("demo", __name__)


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
    return render_template(
        "pages/demo_article.html",
        newsletters=newsletters,
        locale=request_locale(),
        t=t,
        **hosted_form_context(),
    )


@bp.get("/dev/outbox")
def outbox():
    """The newest emails written to the file outbox."""
    directory = _outbox_dir()
    files = sorted(directory.glob("*.eml"), reverse=True)[:100] if directory.exists() else []
    items = []
    for path in files:
        with path.open("rb") as handle:
            message = email.message_from_binary_file(handle, policy=email.policy.default)
        items.append(
            {
                "name": path.name,
                "subject": message["Subject"],
                "to": message["To"],
                "date": message["Date"],
            }
        )
    return render_template("pages/outbox.html", items=items, locale="en", t=t)


@bp.get("/dev/outbox/<name>")
def outbox_message(name: str):
    """One email's HTML part, as a mail client would show it."""
    path = _outbox_dir() / Path(name).name
    if not path.is_file() or path.suffix != ".eml":
        abort(404)
    with path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    part = message.get_body(("html", "plain"))
    body = part.get_content() if part else ""
    mimetype = "text/html" if part and part.get_content_type() == "text/html" else "text/plain"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src * data:; style-src 'unsafe-inline'"
    )
    return response
