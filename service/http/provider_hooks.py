"""Provider hooks: bounces and complaints posted by SES (via SNS), Postmark, SendGrid and
Mailgun. Blueprint only: each provider's module verifies the request (before anything else
of it is read) and parses it; every event goes to `feedback.record_feedback`.

Answers: 200 `{"received", "recorded"}` (`recorded`: events new to us; the same post twice
records nothing the second time); 401 unsigned, 403 forged, stale, replayed or not allowed;
404 while the provider's secret is unset; 400 a signed body that is not the provider's
format; 413 a body over `PROVIDER_HOOK_MAX_BYTES` (providers batch events: a hook's body
may be larger than the API's 16 KiB; `input_guard.raw_body`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from service.deliverability.feedback import FeedbackEvent, record_feedback
from service.deliverability.providers import (
    Disabled,
    Refused,
    Unreadable,
    mailgun,
    postmark,
    sendgrid,
    ses,
)
from service.http.contract import PUBLIC, endpoint
from service.http.errors import api_error
from service.http.input_guard import raw_body
from service.http.schemas.deliverability import ProviderHookAnswer

log = logging.getLogger(__name__)
bp = Blueprint("provider_hooks", __name__)
ERRORS = {
    400: "`bad_request`: a signed body that is not the provider's format",
    401: "`unauthorized`: no signature or credentials",
    403: "`bad_signature`, `forbidden`, `stale`, `replayed`, `topic_not_allowed`, "
    "`certificate_host`, `certificate`, `subscribe_host`",
    404: "`not_found`: the provider's secret is not set",
    413: "`too_large`: the body is over PROVIDER_HOOK_MAX_BYTES (1 MiB)",
}


def declared(more: dict[int, str] | None = None) -> Any:
    """A provider hook's declaration: public, its body the provider's own signed JSON (read
    and verified by the view itself, before anything parses it)."""
    return endpoint(
        PUBLIC,
        validate=False,
        body=Any,
        answers={200: ProviderHookAnswer},
        errors={**ERRORS, **(more or {})},
    )


def _record(events: list[FeedbackEvent]):
    recorded = sum(record_feedback(event).created for event in events)
    return jsonify(received=len(events), recorded=recorded)


def _refused(exc: Refused):
    log.warning("provider hook %s refused: %s", request.path, exc.message)
    return api_error(exc.status, exc.code, exc.message)


def _hook(module):
    """Verify with `module`, then parse and record (the common path of three providers)."""
    config = current_app.config
    body = request.get_data(cache=True)
    try:
        module.verify(request.headers, body, config)
        events = module.parse(body)
    except Disabled:
        return api_error(404, "not_found", "This provider's hook is not configured.")
    except Refused as exc:
        return _refused(exc)
    except Unreadable as exc:
        return api_error(400, "bad_request", str(exc))
    return _record(events)


@bp.post("/webhooks/postmark")
@declared()
@raw_body("PROVIDER_HOOK_MAX_BYTES")
def postmark_hook():
    """Postmark's bounce and spam-complaint webhook (HTTP Basic)."""
    return _hook(postmark)


@bp.post("/webhooks/sendgrid")
@declared()
@raw_body("PROVIDER_HOOK_MAX_BYTES")
def sendgrid_hook():
    """SendGrid's signed Event Webhook: bounce, dropped, spamreport."""
    return _hook(sendgrid)


@bp.post("/webhooks/mailgun")
@declared()
@raw_body("PROVIDER_HOOK_MAX_BYTES")
def mailgun_hook():
    """Mailgun's signed webhooks: failed, complained."""
    return _hook(mailgun)


@bp.post("/webhooks/ses")
@declared({502: "the SNS subscription could not be confirmed"})
@raw_body("PROVIDER_HOOK_MAX_BYTES")
def ses_hook():
    """Amazon SES notifications through SNS: subscription confirmation, Bounce, Complaint."""
    config = current_app.config
    body = request.get_data(cache=True)
    try:
        message = ses.verify(request.headers, body, config)
        if message.get("Type") == "SubscriptionConfirmation":
            confirmed = ses.confirm(message, config)
            return jsonify(confirmed=confirmed), (200 if confirmed else 502)
        events = ses.parse(message)
    except Disabled:
        return api_error(404, "not_found", "This provider's hook is not configured.")
    except Refused as exc:
        return _refused(exc)
    except Unreadable as exc:
        return api_error(400, "bad_request", str(exc))
    return _record(events)
