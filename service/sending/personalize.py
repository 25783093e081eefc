"""Render once, personalize by position: prebuilt MIME bytes cut where each reader's values go.

A send's body is rendered once, when the send starts, with `Placeholders` where the template
puts each reader's unsubscribe and preference tokens: strings drawn at random for that send
after its content is fixed, and checked absent from that content, so no article, feed,
newsletter or reader can know or type them. `build_template` makes the whole message once per
send and worker the same way: the reader's `To` line, `Message-ID`, the token in
`List-Unsubscribe` and the two body parts get stand-ins drawn at random there, and the bytes
and both bodies are cut at those places. `personalize` only joins the pieces with one
reader's values: nothing is searched or replaced per reader, so whatever a title, an image
URL, a newsletter's or a reader's name holds (a marker of an older send, a stand-in's shape)
stays text where it was. The body parts are declared base64 (so no value can be split by
line folding or QP soft breaks); each part's base64 is made once up to its first slot, so a
reader's copy encodes only the footer. That costs some 20 us for a 70 KB digest, against
several milliseconds for a full Jinja render plus `EmailMessage` per recipient.
Sends started before per-send placeholders carry the fixed `LEGACY` ones
(`service.sending.content.placeholders_of` decides whether such a send can go on).

Each reader's copy is DKIM-signed when the template has a signer (`service.mail.dkim`: one
private-key operation and one body hash per reader, the body being per reader), and goes
out from its own envelope sender, a signed VERP address when `BOUNCE_DOMAIN` is set
(`envelope_sender`). The send's `Feedback-ID` is one fixed header of the template.

`List-Unsubscribe` is written with `MAIL_POLICY` (998-octet lines): never an encoded-word.
The Subject, From, List-Id and each reader's To line are made by `service.mail.headers.header`
(the newsletter's From and List-Id by `service.mail.newsletter_sender`), so a title, a
newsletter name or a reader's name cannot become header structure.

The template is checked once to be in SMTP DATA form (CRLF line ends, no line starting with
a dot); the bodies are base64 and every other value lands mid-line, so a message whose values
hold no line break is in DATA form too and is returned as `wire.DataBytes`: the SMTP
transport sends it without scanning it again.
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from service.leaving.links import list_unsubscribe_headers
from service.mail import MAIL_POLICY, RenderedEmail, Sender, wire
from service.mail.dkim import Signer, canonical_body
from service.mail.headers import header
from service.mail.verp import Verp
from service.models.base import utcnow
from service.sending.signing_plan import SigningPlan

_B64_LINE = re.compile(rb".{1,76}", re.S)
_LINE_BYTES = 57  # encoded as one 76-character line of base64
# The slots of a message: where each reader's values go.
TO, MSGID, UNSUB, PREFS, TEXT, HTML = "to", "msgid", "unsub", "prefs", "text", "html"


def random_key() -> str:
    """32 random hex digits (128 bits): a value nobody can know or type in advance."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Placeholders:
    """What a send's rendered body holds where each reader's tokens go."""

    unsubscribe: str
    preferences: str

    @classmethod
    def drawn(cls, content: str, draw: Callable[[], str] = random_key) -> Placeholders:
        """Fresh placeholders for one send, found nowhere in `content` (all its outside text):
        a key that occurs there is drawn again."""
        key = draw()
        while key in content:
            key = draw()
        return cls(unsubscribe=f"NL{key}UNSUB", preferences=f"NL{key}PREFS")

    @classmethod
    def stored_in(cls, content: Mapping[str, Any] | None) -> Placeholders:
        """The placeholders a send's stored content records; `LEGACY` for a send from before."""
        stored = (content or {}).get("placeholders")
        if not stored:
            return LEGACY
        return cls(unsubscribe=stored["unsubscribe"], preferences=stored["preferences"])

    def as_dict(self) -> dict[str, str]:
        """For the send's stored content (`stored_in` reads it back)."""
        return {"unsubscribe": self.unsubscribe, "preferences": self.preferences}

    def found_in(self, text: str) -> bool:
        """True if `text` holds either placeholder."""
        return self.unsubscribe in text or self.preferences in text


# Sends started before issue 19 were rendered with these fixed strings.
LEGACY = Placeholders(unsubscribe="NLxUNSUBxTOKEN", preferences="NLxPREFSxTOKEN")


@dataclass(frozen=True)
class Cut:
    """Text or bytes cut at its slots: the pieces, with None where a value goes, and which."""

    pieces: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (index in pieces, slot name)
    empty: Any  # "" or b"", to join with

    @classmethod
    def at(cls, data: Any, stand_ins: Mapping[Any, str]) -> Cut:
        """`data` cut at every occurrence of each stand-in (a key, naming its slot)."""
        bar, left, right = ("|", "(", ")") if isinstance(data, str) else (b"|", b"(", b")")
        longest_first = sorted(stand_ins, key=len, reverse=True)
        pieces = re.split(left + bar.join(map(re.escape, longest_first)) + right, data)
        slots = tuple((i, stand_ins[pieces[i]]) for i in range(1, len(pieces), 2))
        kept = tuple(None if i % 2 else piece for i, piece in enumerate(pieces))
        return cls(pieces=kept, slots=slots, empty=data[:0])

    def filled(self, values: Mapping[str, Any]) -> list[Any]:
        """The pieces, with `values[slot]` at each slot."""
        pieces = list(self.pieces)
        for index, slot in self.slots:
            pieces[index] = values[slot]
        return pieces

    def join(self, values: Mapping[str, Any]) -> Any:
        """The whole again, with `values[slot]` at each slot."""
        return self.empty.join(self.filled(values))


@dataclass(frozen=True)
class Body:
    """A body part in base64, encoded once up to its first slot (in whole 57-byte lines,
    which base64 makes 76-character lines of), the rest cut at its slots."""

    lead: bytes  # the base64 lines before the first slot, each ending in CRLF
    rest: Cut  # the UTF-8 bytes after them, cut at the slots

    @classmethod
    def of(cls, text: str, stand_ins: Mapping[bytes, str]) -> Body:
        """`text` ready to be encoded with values at each stand-in (a key, naming its slot)."""
        data = text.encode()
        first = min((data.find(s) for s in stand_ins if s in data), default=len(data))
        whole = max(0, min(first, len(data) - 1)) // _LINE_BYTES * _LINE_BYTES
        encoded = binascii.b2a_base64(data[:whole], newline=False)
        lead = b"".join(line + b"\r\n" for line in _B64_LINE.findall(encoded))
        return cls(lead=lead, rest=Cut.at(data[whole:], stand_ins))

    def encoded(self, values: Mapping[str, bytes]) -> bytes:
        """The part's base64 with `values` at its slots: `_b64` of the whole, line for line."""
        return self.lead + _b64(self.rest.join(values))


@dataclass(frozen=True)
class MessageTemplate:
    """A message ready to be personalized: its bytes and bodies cut at their slots."""

    message: Cut  # the MIME bytes: To line, Message-ID, List-Unsubscribe token, two bodies
    text: Body  # the text body: unsubscribe and preference tokens
    html: Body  # the HTML body: the same
    sender: str
    domain: str
    newsletter_id: int
    signer: Signer | None = None
    verp: Verp | None = None
    body_canonical: bool = False  # each copy's body is in DKIM's relaxed form as it is
    signing: SigningPlan | None = None  # with a signer and a canonical body


@dataclass(frozen=True)
class Recipient:
    """What personalization needs to know about one reader."""

    subscriber_id: int
    address: str
    name: str | None
    smtputf8: bool
    unsubscribe_token: str
    preferences_token: str


def build_template(
    rendered: RenderedEmail,
    *,
    sender: Sender,
    newsletter_id: int,
    placeholders: Placeholders,
    feedback_id: str | None = None,
    signer: Signer | None = None,
    verp: Verp | None = None,
) -> MessageTemplate:
    """Build the message once and cut it where each reader's values go.

    `rendered` holds `placeholders` where the template put the reader's links; `sender` is
    the newsletter's (`service.mail.newsletter_sender`): its From and List-Id. With
    `feedback_id` the message carries that `Feedback-ID`; with `signer` each copy is signed,
    with `verp` each goes out from its reader's bounce address."""
    key = random_key()
    to_address, msgid = f"nl{key}to@placeholder.invalid", f"nl{key}id@placeholder.invalid"
    unsub, text_body, html_body = f"NL{key}UNSUB", f"NL{key}TEXT", f"NL{key}HTML"
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = header("Subject", rendered.subject)
    message["From"] = sender.headers["From"]
    message["To"] = header("To", None, to_address)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = f"<{msgid}>"
    message["List-Id"] = sender.headers["List-Id"]
    unsubscribe = list_unsubscribe_headers(unsub)
    for name, value in unsubscribe.items():
        message[name] = value
    if feedback_id:
        message["Feedback-ID"] = header("Feedback-ID", feedback_id)
    message.set_content(text_body, cte="7bit")
    message.add_alternative(html_body, subtype="html", cte="7bit")
    for part in message.iter_parts():
        part.replace_header("Content-Transfer-Encoding", "base64")
    raw = message.as_bytes(policy=MAIL_POLICY)
    if not wire.is_prepared(raw):
        raise ValueError("the email policy must write CRLF line ends")
    to_line = f"To: {to_address}\r\n".encode()
    head = raw.partition(b"\r\n\r\n")[0] + b"\r\n"
    in_head = {to_line: 1, msgid.encode(): 1, unsub.encode(): _count(unsubscribe, unsub)}
    for stand_in, times in in_head.items():
        if raw.count(stand_in) != times or head.count(stand_in) != times:
            raise ValueError("the To line, Message-ID and List-Unsubscribe must be headers")
    if raw.count(text_body.encode()) != 1 or raw.count(html_body.encode()) != 1:
        raise ValueError("each body part must be in the message once")
    bodies = {text_body.encode(): TEXT, html_body.encode(): HTML}
    cut = Cut.at(raw, dict(zip(in_head, (TO, MSGID, UNSUB), strict=True)) | bodies)
    tokens = {placeholders.unsubscribe.encode(): UNSUB, placeholders.preferences.encode(): PREFS}
    body = raw.partition(b"\r\n\r\n")[2]  # boundaries, part headers, base64 (a reader's too)
    text = Body.of(rendered.text, tokens)
    canonical = canonical_body(body) == body
    return MessageTemplate(
        message=cut,
        text=text,
        html=Body.of(rendered.html, tokens),
        sender=sender.address,
        domain=sender.domain,
        newsletter_id=newsletter_id,
        signer=signer,
        verp=verp,
        body_canonical=canonical,
        signing=_plan(signer, cut, text, raw, {msgid.encode(): MSGID, unsub.encode(): UNSUB})
        if signer and canonical
        else None,
    )


def _plan(signer: Signer, cut: Cut, text: Body, raw: bytes, stand_ins) -> SigningPlan | None:
    slots = dict(cut.slots)
    pieces = [slots[i] if piece is None else piece for i, piece in enumerate(cut.pieces)]
    head = raw.partition(b"\r\n\r\n")[0] + b"\r\n"
    return SigningPlan.of(
        signer,
        pieces,
        text_slot=TEXT,
        text_lead=text.lead,
        to_slot=TO,
        head=head,
        stand_ins=stand_ins,
    )


def _count(headers: dict[str, str], stand_in: str) -> int:
    return sum(value.count(stand_in) for value in headers.values())


def _to_line(recipient: Recipient) -> bytes:
    """The reader's To line; its address is UTF-8 only for a reader with SMTPUTF8."""
    line = header("To", recipient.name, recipient.address).fold(policy=MAIL_POLICY)
    return line.encode("utf-8" if recipient.smtputf8 else "ascii")


def _b64(data: bytes) -> bytes:
    """Base64 in CRLF-separated lines of 76 characters (what `base64.encodebytes` makes)."""
    return b"\r\n".join(_B64_LINE.findall(binascii.b2a_base64(data, newline=False)))


def message_id(template: MessageTemplate, send_id: int, subscriber_id: int) -> str:
    """The Message-ID of one send's message to one reader (stable across retries)."""
    return f"send-{send_id}-{subscriber_id}@{template.domain}"


def envelope_sender(template: MessageTemplate, send_id: int, subscriber_id: int) -> str:
    """The MAIL FROM of one send's message to one reader: its signed VERP address when
    `BOUNCE_DOMAIN` is set, else the newsletter's From address."""
    if template.verp is None:
        return template.sender
    return template.verp.make(send_id, subscriber_id)


def personalize(template: MessageTemplate, send_id: int, recipient: Recipient) -> bytes:
    """The finished message for `recipient` (signed if the template has a signer), as bytes
    for the transport."""
    to_line = _to_line(recipient)
    msgid = message_id(template, send_id, recipient.subscriber_id).encode()
    tokens = {
        UNSUB: recipient.unsubscribe_token.encode(),
        PREFS: recipient.preferences_token.encode(),
    }
    text_rest = _b64(template.text.rest.join(tokens))  # `template.text.encoded`, in two
    values = {
        TO: to_line,
        MSGID: msgid,
        UNSUB: tokens[UNSUB],
        TEXT: template.text.lead + text_rest,
        HTML: template.html.encoded(tokens),
    }
    if template.signing is not None:  # signed without copying it again
        pieces = template.message.filled(values)
        message = b"".join((template.signing.sign(pieces, text_rest, values), *pieces))
    else:
        message = template.message.join(values)
    if template.signing is None and template.signer is not None:
        message = template.signer.sign(message, body_canonical=template.body_canonical) + message
    token_lines = recipient.unsubscribe_token + recipient.preferences_token
    if _no_line_breaks(token_lines, msgid) and wire.is_prepared(to_line):
        return wire.DataBytes(message)
    return message


def _no_line_breaks(text: str, data: bytes) -> bool:
    return not any(c in text for c in "\r\n") and b"\r" not in data and b"\n" not in data
