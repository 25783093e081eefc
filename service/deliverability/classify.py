"""Bounce classes from the status code (RFC 3463 enhanced codes, else the RFC 5321 reply
code), never from a provider's own label.

- hard: 5.1.x (no such mailbox, no such domain) and 5.2.1 (mailbox disabled);
- soft: every 4.x.x, 5.2.2 (mailbox full), and any other 5.x.x that is neither about the
  address nor about the sender (a system, network, protocol or content problem): soft
  bounces suppress only after several inside a window (`SOFT_BOUNCE_LIMIT`);
- policy: 5.7.x, a refusal about the sender (authentication, reputation, spam policy):
  it never suppresses the reader, it counts toward the send's brakes;
- complaint: a reader reported the message;
- unknown: no code could be found; recorded, nothing done.

A bare reply code without an enhanced code is read the same way as `X.0.0`: a 5xx is
soft (its reason is not known), a 4xx soft.
"""

from __future__ import annotations

import re

HARD, SOFT, POLICY, COMPLAINT, UNKNOWN = "hard", "soft", "policy", "complaint", "unknown"
CLASSES = (HARD, SOFT, POLICY, COMPLAINT, UNKNOWN)
BOUNCE, COMPLAINT_KIND = "bounce", "complaint"
KINDS = (BOUNCE, COMPLAINT_KIND)

_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_REPLY = re.compile(r"(?<![\d.])([245])(\d)(\d)(?![\d.])")


def status_code(status: str | int | None, diagnostic: str | None = "") -> str:
    """The enhanced status code `X.Y.Z` in `status`, else in `diagnostic`, else `X.0.0` from
    a reply code in either; "" if there is none. Never raises."""
    texts = [str(status) if status is not None else "", diagnostic or ""]
    for text in texts:
        match = _ENHANCED.search(text[:2000])
        if match:
            return ".".join(str(int(part)) for part in match.groups())
    for text in texts:
        match = _REPLY.search(text[:2000])
        if match:
            return f"{match.group(1)}.0.0"
    return ""


def classify(kind: str, code: str) -> str:
    """The class of a feedback event of `kind` with enhanced status `code` (`status_code`)."""
    if kind == COMPLAINT_KIND:
        return COMPLAINT
    if not code:
        return UNKNOWN
    klass, subject, detail = (int(part) for part in code.split("."))
    if klass == 4:
        return SOFT
    if klass != 5:
        return UNKNOWN  # 2.x.x: a success reported as feedback; nothing to do
    if subject == 7:
        return POLICY
    if subject == 1 or (subject == 2 and detail == 1):
        return HARD
    return SOFT


def smtp_status(code: int | None, response: str) -> str:
    """The enhanced status of a relay's answer during the send (`MailError.code`, its text)."""
    found = status_code(None, response)
    if found and code is not None and found[0] != str(code)[0]:
        found = ""  # text that contradicts the reply's class is not its status
    return found or (f"{str(code)[0]}.0.0" if code and 400 <= code < 600 else "")
