"""Email: render a template folder into text + HTML, build the MIME message, hand it to a transport.

An email lives in `templates/email/<name>/{subject.txt, body.txt, body.html}`. HTML templates
are autoescaped (in the web process and in workers alike); text templates are not HTML, so
they are not escaped. CSS is inlined with css-inline.

Every header that carries text someone typed (the Subject, the To and From display names,
the List-Id) is made by `service.mail.headers.header`, whose text can never become header
structure. From names the publisher (`PUBLISHER_NAME`) on transactional mail and the
newsletter on newsletter mail; `newsletter_sender` is the one place a newsletter's From and
List-Id are made, for its sends and its test sends alike. Transactional mail (confirmation,
preference link) goes to an address nobody may have verified, on anyone's request, so it
carries nothing a reader typed: no name in To, none in the greeting.

Every hand-over names its envelope sender (MAIL FROM) explicitly: `deliver` takes it, and
signs the message first when DKIM is configured (`service.mail.dkim`). Transactional and
test mail go out from the From address; a digest's copies from their reader's VERP bounce
address (`service.mail.verp`, `service.sending.personalize`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from functools import cache
from typing import Any

import css_inline
from flask import current_app
from flask_babel import force_locale, get_translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from service.config import ROOT
from service.i18n import DEFAULT_LOCALE
from service.mail import dkim
from service.mail.headers import Header, header
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
    """The Jinja environment for emails: HTML autoescaped, undefined names are errors, and
    `_()`/`ngettext()` translate into the locale being rendered (Flask-Babel's catalogues)."""
    env = Environment(
        loader=FileSystemLoader(EMAIL_TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda text: get_translations().ugettext(text),
        lambda singular, plural, n: get_translations().ungettext(singular, plural, n),
        newstyle=True,
        pgettext=lambda context, text: get_translations().upgettext(context, text),
    )
    return env


def render_email(name: str, context: dict[str, Any]) -> RenderedEmail:
    """Render `templates/email/<name>/` with `context` in its `locale` (English if none);
    the HTML comes back with CSS inlined."""
    env = template_env()
    with force_locale(context.get("locale") or DEFAULT_LOCALE):
        subject = env.get_template(f"{name}/subject.txt").render(context)
        text = env.get_template(f"{name}/body.txt").render(context)
        html = env.get_template(f"{name}/body.html").render(context)
    return RenderedEmail(
        subject=" ".join(subject.split()),
        text=text.strip() + "\n",
        html=css_inline.inline(html),
    )


@dataclass(frozen=True)
class Sender:
    """Who mail is from: the envelope address and the headers that name the sender."""

    address: str
    headers: dict[str, Header]  # From, and List-Id for a newsletter

    @property
    def domain(self) -> str:
        """The domain of the sender's address (Message-IDs are made in it)."""
        return self.address.rpartition("@")[2] or "localhost"


def publisher_sender() -> Sender:
    """The sender of transactional mail: `PUBLISHER_NAME <MAIL_FROM>`."""
    config = current_app.config
    address = config["MAIL_FROM"]
    return Sender(address, {"From": header("From", config["PUBLISHER_NAME"], address)})


def newsletter_sender(newsletter: Any) -> Sender:
    """The sender of `newsletter`'s mail: its name and address in From, and its List-Id
    (`<slug>.<the sender's domain>`, RFC 2919), the same on every send and test send."""
    address = newsletter.from_address or current_app.config["MAIL_FROM"]
    list_id = f"{newsletter.slug}.{address.rpartition('@')[2] or 'localhost'}"
    return Sender(
        address,
        {
            "From": header("From", newsletter.name, address),
            "List-Id": header("List-Id", newsletter.name, list_id),
        },
    )


def feedback_id(send_id: int, slug: str, kind: str = "digest") -> str:
    """The `Feedback-ID` of a send, as Gmail's feedback loop reads it (`a:b:c:SenderId`):
    the send, the newsletter, the kind of mail and the publisher's stable `SenderId`
    (`FEEDBACK_ID_SENDER`). The same on every copy of the send: nothing per reader."""
    return f"{send_id}:{slug}:{kind}:{current_app.config['FEEDBACK_ID_SENDER']}"


def build_message(
    rendered: RenderedEmail,
    *,
    to: Header,
    sender: Sender,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message with Message-ID, Date, From and any extra headers
    (constants: text from outside goes into a `header` first)."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = header("Subject", rendered.subject)
    for name, value in sender.headers.items():
        message[name] = value
    message["To"] = to
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=sender.domain)
    for key, value in (headers or {}).items():
        message[key] = value if isinstance(value, Header) else header(key, value)
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return message


def send_transactional(name: str, reader: Any, **context: Any) -> str:
    """Render `templates/email/<name>/` for `reader` (a Subscriber) and send it now.

    The shared helper of every one-to-one email: the caller gives only its context; the
    publisher's footer, the reader's locale and the headers are added here. Nothing the
    reader typed goes in: the address may not be theirs.
    """
    config = current_app.config
    context.setdefault("locale", reader.locale)
    rendered = render_email(
        name,
        {
            "publisher_name": config["PUBLISHER_NAME"],
            "publisher_address": config["PUBLISHER_ADDRESS"],
            **context,
        },
    )
    sender = publisher_sender()
    message = build_message(
        rendered,
        to=header("To", None, reader.email_ascii),
        sender=sender,
        headers={"Auto-Submitted": "auto-generated"},
    )
    return deliver(message, envelope_sender=sender.address, smtputf8=reader.smtputf8)


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


def deliver(message: EmailMessage, *, envelope_sender: str, smtputf8: bool = False) -> str:
    """Send `message` to its `To` address through this thread's transport, from
    `envelope_sender` (the MAIL FROM bounces go to), DKIM-signed if configured."""
    recipients = [addr.addr_spec for addr in message["To"].addresses]
    payload = message.as_bytes(policy=MAIL_POLICY.clone(utf8=smtputf8))
    signer = dkim.signer()
    if signer is not None:
        payload = signer.sign(payload) + payload
    return transport().send(payload, envelope_sender, recipients, smtputf8=smtputf8)
