"""Email: render a template folder into text + HTML, build the MIME message, hand it to a transport.

An email lives in `templates/email/<name>/{subject.txt, body.txt, body.html}`. HTML templates
are autoescaped (in the web process and in workers alike); text templates are not HTML, so
they are not escaped, and the subject goes through header encoding. CSS is inlined with
css-inline. Nothing a reader typed reaches a header unencoded: addresses and names go through
`email.headerregistry.Address`, which quotes and RFC 2047-encodes them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from functools import cache
from typing import Any

import css_inline
from flask import current_app
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from service.config import ROOT
from service.i18n import t
from service.mail.transports import Transport, transport_from_url
from service.models.base import utcnow

# Long lines allowed (998, RFC 5322), so List-Unsubscribe is never folded into an encoded-word.
MAIL_POLICY = SMTP.clone(max_line_length=998)
EMAIL_TEMPLATES = ROOT / "templates" / "email"

_local = threading.local()


@dataclass(frozen=True)
class RenderedEmail:
    """The three parts of an email, rendered."""

    subject: str
    text: str
    html: str


@cache
def template_env() -> Environment:
    """The Jinja environment for emails: HTML autoescaped, undefined names are errors."""
    env = Environment(
        loader=FileSystemLoader(EMAIL_TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["t"] = t
    return env


def render_email(name: str, context: dict[str, Any]) -> RenderedEmail:
    """Render `templates/email/<name>/` with `context`; the HTML comes back with CSS inlined."""
    env = template_env()
    subject = env.get_template(f"{name}/subject.txt").render(context)
    text = env.get_template(f"{name}/body.txt").render(context)
    html = env.get_template(f"{name}/body.html").render(context)
    return RenderedEmail(
        subject=" ".join(subject.split()),
        text=text.strip() + "\n",
        html=css_inline.inline(html),
    )


def header_address(address: str, name: str | None = None) -> HeaderAddress:
    """A header address; the display name is cleaned of control characters and encoded."""
    clean = " ".join((name or "").split())
    local, _, domain = address.rpartition("@")
    return HeaderAddress(display_name=clean, username=local, domain=domain)


def build_message(
    rendered: RenderedEmail,
    *,
    to: HeaderAddress,
    sender: str,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message with Message-ID, Date, From and any extra headers."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    for key, value in (headers or {}).items():
        message[key] = value
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return message


def send_transactional(name: str, reader: Any, **context: Any) -> str:
    """Render `templates/email/<name>/` for `reader` (a Subscriber) and send it now.

    The shared helper of every one-to-one email: the caller gives only its context; the
    publisher's footer, the reader's locale and name, and the headers are added here.
    """
    config = current_app.config
    context.setdefault("locale", reader.locale)
    rendered = render_email(
        name,
        {
            "name": reader.name,
            "publisher_name": config["PUBLISHER_NAME"],
            "publisher_address": config["PUBLISHER_ADDRESS"],
            **context,
        },
    )
    message = build_message(
        rendered,
        to=header_address(reader.email_ascii, reader.name),
        sender=config["MAIL_FROM"],
        headers={"Auto-Submitted": "auto-generated"},
    )
    return deliver(message, smtputf8=reader.smtputf8)


def transport() -> Transport:
    """This thread's transport, made from `MAIL_URL` once and reused (one SMTP connection)."""
    url = current_app.config["MAIL_URL"]
    cached = getattr(_local, "transport", None)
    if cached is None or _local.url != url:
        if cached is not None:
            cached.close()
        _local.transport = transport_from_url(url, base_dir=ROOT)
        _local.url = url
    return _local.transport


def deliver(message: EmailMessage, *, smtputf8: bool = False) -> str:
    """Send `message` to its `To` address through this thread's transport."""
    recipients = [addr.addr_spec for addr in message["To"].addresses]
    sender = message["From"].addresses[0].addr_spec
    payload = message.as_bytes(policy=MAIL_POLICY.clone(utf8=smtputf8))
    return transport().send(payload, sender, recipients, smtputf8=smtputf8)
