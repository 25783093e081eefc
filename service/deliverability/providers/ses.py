"""Amazon SES bounce and complaint notifications, delivered by SNS to `POST /webhooks/ses`.

The SNS envelope is verified first (`sns.verify_message`); only topics in `SES_TOPIC_ARNS`
are accepted. A `SubscriptionConfirmation` for such a topic is confirmed by fetching its
`SubscribeURL`, which must be on an allowed host too (`SES_CERT_HOSTS`). A `Notification`
carries SES's JSON: `notificationType` (or `eventType`, for configuration-set event
publishing) `Bounce` or `Complaint`, one event per recipient. The class comes from each
recipient's `status` and `diagnosticCode`, never from SES's `bounceType`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from service.deliverability.feedback import FeedbackEvent
from service.deliverability.providers import (
    Disabled,
    Refused,
    Unreadable,
    json_body,
    sns,
    text,
    when,
)

log = logging.getLogger(__name__)
CONFIRM_TIMEOUT = 5.0


def topics(config: Mapping[str, Any]) -> set[str]:
    """The accepted topic ARNs."""
    return {t.strip() for t in str(config["SES_TOPIC_ARNS"]).split(",") if t.strip()}


def verify(headers: Mapping[str, str], body: bytes, config: Mapping[str, Any]) -> dict:
    """The verified SNS message (its signature, then its topic), or 401/403."""
    allowed = topics(config)
    if not allowed:
        raise Disabled("ses")
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        message = None
    if not isinstance(message, dict) or "Signature" not in message:
        raise Refused(401, "unauthorized", "an signed SNS message is required")
    sns.verify_message(message, config["SES_CERT_HOSTS"])
    if message.get("TopicArn") not in allowed:
        raise Refused(403, "topic_not_allowed", "this topic is not in SES_TOPIC_ARNS")
    return message


def confirm(message: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    """Confirm a verified subscription of an allowed topic: GET its SubscribeURL, only on
    an allowed host. True if SNS answered 2xx."""
    url = str(message.get("SubscribeURL") or "")
    if not sns.host_allowed(url, config["SES_CERT_HOSTS"]):
        raise Refused(403, "subscribe_host", "the SubscribeURL's host is not allowed")
    try:
        status, _ = sns.https_get(url, CONFIRM_TIMEOUT, 64 * 1024)
        ok = 200 <= status < 300
    except OSError as exc:
        log.warning("SNS subscription to %s not confirmed: %s", message.get("TopicArn"), exc)
        return False
    log.info("SNS subscription to %s confirmed", message.get("TopicArn"))
    return ok


def parse(message: Mapping[str, Any]) -> list[FeedbackEvent]:
    """The bounces and complaints of a verified `Notification` (one per recipient)."""
    if message.get("Type") != "Notification":
        return []
    notice = json_body(str(message.get("Message") or "").encode())
    if not isinstance(notice, dict):
        raise Unreadable("the SES notification is not a JSON object")
    kind = text(notice.get("notificationType") or notice.get("eventType"))
    mail = notice.get("mail") if isinstance(notice.get("mail"), dict) else {}
    common = mail.get("commonHeaders") if isinstance(mail.get("commonHeaders"), dict) else {}
    message_id = text(common.get("messageId"), 300) or None
    if kind == "Bounce":
        body, people, event_kind = notice.get("bounce"), "bouncedRecipients", "bounce"
    elif kind == "Complaint":
        body, people, event_kind = notice.get("complaint"), "complainedRecipients", "complaint"
    else:
        return []
    if not isinstance(body, dict):
        raise Unreadable(f"the SES {kind} has no details")
    feedback_id = text(body.get("feedbackId"), 200) or text(message.get("MessageId"), 200)
    found = []
    for person in body.get(people) or []:
        if not isinstance(person, dict) or not text(person.get("emailAddress")):
            continue
        address = text(person.get("emailAddress"), 320)
        found.append(
            FeedbackEvent(
                source="ses",
                kind=event_kind,
                provider_event_id=f"{feedback_id}:{address.lower()}",
                status=text(person.get("status"), 32),
                diagnostic=text(person.get("diagnosticCode")),
                recipient=address,
                message_id=message_id,
                occurred_at=when(body.get("timestamp")),
            )
        )
    return found
