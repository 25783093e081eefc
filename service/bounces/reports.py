"""What a piece of bounce mail says: a failed delivery, a complaint, or nothing to act on.

- A delivery report (RFC 3464: `multipart/report; report-type=delivery-status`) is read with
  the standard library: each per-recipient block with `Action: failed` is a bounce, with its
  `Status` (5.1.1), `Diagnostic-Code` (`smtp; 550 5.1.1 ...`) and `Final-Recipient`.
  `delayed`, `delivered`, `relayed` and `expanded` are not failures: the relay is still
  trying or succeeded (a final failure comes as its own report).
- A complaint (ARF, RFC 5965: `report-type=feedback-report`) with `Feedback-Type: abuse`
  (or `fraud`) is a complaint; `not-spam`, `auth-failure` and the others are not.
- Other mail from a mail system (`MAILER-DAEMON`, `postmaster`, an empty Return-Path, an
  `X-Failed-Recipients` header) goes to Mailman's kept parser, flufl.bounce, which knows the
  non-standard formats (old Exim, qmail, ...): a permanent failure it finds is a bounce with
  the message's own text as the diagnostic (the class comes from a status code in it).
- Anything else is ignored: an auto-reply or vacation notice (`autoreplies`; many mail
  systems mark their reports `Auto-Submitted: auto-replied` too, which is why the two
  checks above come first), or a person writing to the bounce address.

A report's generic `Status: 5.0.0` (Exim writes it) gives way to the more precise code of
its own class in the `Diagnostic-Code` (`550 5.1.1 ...`).

The original message's Message-ID (from the returned `message/rfc822` or
`text/rfc822-headers` part) is kept, to tie the report to its delivery. Everything here is
untrusted text: it is never raised on, only cut and read.
"""

from __future__ import annotations

import email
import hashlib
from dataclasses import dataclass
from email.message import Message
from email.policy import compat32

from flufl.bounce import all_failures

from service.bounces.autoreplies import is_auto_reply
from service.deliverability.classify import status_code

BOUNCE, COMPLAINT, IGNORED = "bounce", "complaint", "ignored"
COMPLAINT_TYPES = frozenset({"abuse", "fraud"})
MAX_TEXT = 2000


@dataclass(frozen=True)
class Reading:
    """What one inbound message is: `kind` (bounce, complaint, ignored) and what it says."""

    kind: str
    why: str  # delivery-status, feedback-report, auto-reply, non-standard, no failure...
    report_id: str  # the report's own Message-ID, else a hash of its bytes (idempotency)
    status: str = ""
    diagnostic: str = ""
    recipient: str | None = None
    original_message_id: str | None = None


def read(raw: bytes) -> Reading:
    """Read `raw` (one whole message as received). Never raises on bad input."""
    message = email.message_from_bytes(raw, policy=compat32)
    report_id = _text(message.get("Message-ID")).strip()[:200]
    report_id = report_id or "sha256:" + hashlib.sha256(raw).hexdigest()[:40]
    report_type = str(message.get_param("report-type", "") or "").lower()
    if message.get_content_type() == "multipart/report" and message.is_multipart():
        if report_type == "delivery-status":
            return _delivery_status(message, report_id)
        if report_type == "feedback-report":
            return _feedback_report(message, report_id)
    if _from_mail_system(message):
        return _non_standard(message, report_id)
    return Reading(IGNORED, "auto-reply" if is_auto_reply(message) else "not a report", report_id)


def _from_mail_system(message: Message) -> bool:
    """Sent by a mail server about a delivery, not by a person or their responder."""
    if message.get("X-Failed-Recipients") is not None:
        return True
    if _text(message.get("Return-Path")).strip() == "<>":
        return True
    sender = _text(message.get("From")).lower()
    return any(name in sender for name in ("mailer-daemon@", "postmaster@", "<mailer-daemon"))


def _text(value: object) -> str:
    return str(value) if value is not None else ""


def _value(block: Message, name: str) -> str:
    """A field's value without its type (`rfc822; x@y` -> `x@y`, `smtp; 550 ...` -> `550 ...`)."""
    text = " ".join(_text(block.get(name)).split())[:MAX_TEXT]
    kind, sep, rest = text.partition(";")
    return rest.strip() if sep and " " not in kind.strip() else text


def _parts(message: Message) -> list[Message]:
    payload = message.get_payload()
    return (
        [part for part in payload if isinstance(part, Message)] if isinstance(payload, list) else []
    )


def _original_message_id(message: Message) -> str | None:
    """The Message-ID of the returned original (`message/rfc822` or its headers only)."""
    for part in _parts(message):
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = _parts(part)
            if inner:
                return _text(inner[0].get("Message-ID")).strip()[:255] or None
        elif kind == "text/rfc822-headers":
            headers = part.get_payload(decode=True) or b""
            parsed = email.message_from_bytes(bytes(headers), policy=compat32)
            return _text(parsed.get("Message-ID")).strip()[:255] or None
    return None


def _delivery_status(message: Message, report_id: str) -> Reading:
    status_part = next(
        (p for p in _parts(message) if p.get_content_type() == "message/delivery-status"), None
    )
    blocks = _parts(status_part) if status_part is not None else []
    original = _original_message_id(message)
    for block in blocks[1:]:  # the first block is about the message, the rest per recipient
        if _value(block, "Action").lower() != "failed":
            continue
        status, diagnostic = _value(block, "Status"), _value(block, "Diagnostic-Code")
        return Reading(
            BOUNCE,
            "delivery-status",
            report_id,
            status=_precise(status, diagnostic),
            diagnostic=diagnostic,
            recipient=_value(block, "Final-Recipient")
            or _value(block, "Original-Recipient")
            or None,
            original_message_id=original,
        )
    return Reading(IGNORED, "no failed recipient", report_id, original_message_id=original)


def _precise(status: str, diagnostic: str) -> str:
    """`status`, unless it is a generic `X.0.0` and the diagnostic has a code of its class."""
    code = status_code(status)
    if code.endswith(".0.0"):
        better = status_code(None, diagnostic)
        if better[:1] == code[:1] and not better.endswith(".0.0"):
            return better
    return status


def _feedback_report(message: Message, report_id: str) -> Reading:
    part = next(
        (p for p in _parts(message) if p.get_content_type() == "message/feedback-report"), None
    )
    fields = _feedback_fields(part) if part is not None else None
    if fields is None:
        return Reading(IGNORED, "feedback report without its fields", report_id)
    feedback_type = _value(fields, "Feedback-Type").lower()
    original = _original_message_id(message)
    if feedback_type not in COMPLAINT_TYPES:
        return Reading(IGNORED, f"feedback type {feedback_type or '-'}", report_id)
    return Reading(
        COMPLAINT,
        "feedback-report",
        report_id,
        diagnostic=f"feedback-type {feedback_type}",
        recipient=_value(fields, "Original-Rcpt-To") or None,
        original_message_id=original,
    )


def _feedback_fields(part: Message) -> Message | None:
    """The machine-readable fields of an ARF report (parsed as a message/* part, or text)."""
    inner = _parts(part)
    if inner:
        return inner[0]
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return email.message_from_bytes(payload, policy=compat32)
    return None


def _non_standard(message: Message, report_id: str) -> Reading:
    try:
        _temporary, permanent = all_failures(message)
    except Exception:  # a kept parser, but hostile input: its failure is "no bounce found"
        permanent = set()
    if not permanent:
        return Reading(IGNORED, "no failure found", report_id)
    address = sorted(_address(a) for a in permanent)[0]
    return Reading(
        BOUNCE,
        "non-standard",
        report_id,
        diagnostic=_body_text(message),
        recipient=address or None,
        original_message_id=None,
    )


def _address(value: object) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text.strip()[:320]


def _body_text(message: Message) -> str:
    """The first text part, as one cut line (the classifier finds a status code in it)."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            data = part.get_payload(decode=True) or b""
            return " ".join(bytes(data).decode("utf-8", "replace").split())[:MAX_TEXT]
    return ""
