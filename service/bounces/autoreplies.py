"""Auto-replies and vacation notices: mail that comes back but is no bounce.

RFC 3834 marks them `Auto-Submitted: auto-replied`; older responders say so with
`X-Autoreply`, `X-Autorespond`, `Precedence: auto_reply` (or bulk, junk, list) or only in
the subject ("Out of Office", "Automatic reply", "Abwesenheitsnotiz", ...). A delivery
report is `Auto-Submitted: auto-generated`, which is NOT a reply: reports are recognised by
their content type first (`service.bounces.reports`), so this check only decides about mail
that is not a report.
"""

from __future__ import annotations

import re
from email.message import Message

_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto[- ]?reply|autoresponse|auto:|vacation|"
    r"away from (my|the) (desk|office)|on leave|abwesenheit|réponse automatique|"
    r"respuesta automática|risposta automatica|автоответ|автовідповідь|відпустк|отпуск",
    re.I,
)
_RESPONDER_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Vacation")
_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk", "list"})


def is_auto_reply(message: Message) -> bool:
    """True for an auto-reply or vacation notice (never for a delivery report)."""
    submitted = str(message.get("Auto-Submitted", "")).strip().lower()
    if submitted.startswith("auto-replied"):
        return True
    if any(message.get(name) is not None for name in _RESPONDER_HEADERS):
        return True
    if str(message.get("Precedence", "")).strip().lower() in _PRECEDENCE:
        return True
    return bool(_SUBJECT.search(str(message.get("Subject", ""))[:300]))
