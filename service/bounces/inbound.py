"""`newsletter bounces serve`: the inbound SMTP server that bounce mail is delivered to.

An aiosmtpd server (its own thread and event loop) that accepts a recipient only if it is a
genuine VERP address of this service (`service.mail.verp`): anything else, a forged or
altered address included, is refused at RCPT with 550, so a forged bounce reaches nobody.
Each accepted message is read (`service.bounces.reports`) and, if it is a failed delivery or
a complaint, handed to `record_feedback` once per recipient, off the event loop in a worker
thread with the app context. The reader and send are the ones the VERP address names; what
the report itself says about the recipient is not trusted (whoever got a digest could write
a report naming someone else). The event's id is the report's own Message-ID with the
address's ids, so the same report delivered twice acts once. A report that cannot be
recorded now (the database away) is answered 451, and the sending server tries again.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask

from service.bounces import reports
from service.deliverability.feedback import FeedbackEvent, Outcome, record_feedback
from service.extensions import db
from service.mail.verp import Verp

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a report with the whole original returned
REFUSED = "550 5.1.1 Not a bounce address of this service"


def take(app: Flask, verp: Verp, recipients: list[str], raw: bytes) -> list[Outcome]:
    """Read one inbound message to `recipients` (VERP addresses) and record what it reports."""
    reading = reports.read(raw)
    if reading.kind == reports.IGNORED:
        log.info("bounce mail ignored: %s", reading.why)
        return []
    outcomes = []
    with app.app_context():
        try:
            for address in recipients:
                ids = verp.parse(address)
                if ids is None:  # refused at RCPT already; never trusted here either
                    continue
                send_id, subscriber_id = ids
                event = FeedbackEvent(
                    source="dsn" if reading.kind == reports.BOUNCE else "arf",
                    kind=reading.kind,
                    provider_event_id=f"{send_id}-{subscriber_id}:{reading.report_id}",
                    status=reading.status,
                    diagnostic=reading.diagnostic,
                    send_id=send_id,
                    subscriber_id=subscriber_id,
                )
                outcome = record_feedback(event)
                log.info(
                    "bounce mail (%s) for send %s, reader %s: %s, %s",
                    reading.why,
                    send_id,
                    subscriber_id,
                    outcome.bounce_class,
                    outcome.action,
                )
                outcomes.append(outcome)
        finally:
            db.session.remove()
    return outcomes


class BounceHandler:
    """aiosmtpd handler: VERP recipients only; each message recorded off the event loop."""

    def __init__(self, app: Flask, verp: Verp) -> None:
        self.app, self.verp = app, verp
        self._work = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bounces")

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:
        """Accept a genuine bounce address only."""
        if self.verp.parse(address) is None:
            return REFUSED
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        """Record the message's report; 451 if that cannot be done now."""
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                self._work, take, self.app, self.verp, list(envelope.rcpt_tos), raw
            )
        except Exception:
            log.exception("bounce mail could not be recorded; the sender will retry")
            return "451 4.3.0 Cannot record this report now; please try again later"
        return "250 2.0.0 OK"

    def close(self) -> None:
        """Let the recorder threads finish."""
        self._work.shutdown(wait=True)


def serve(app: Flask, verp: Verp, host: str, port: int, **smtp: Any) -> Controller:
    """Start the server on `host`:`port` in its own thread and return its controller
    (`controller.stop()` ends it). Raises OSError when the port cannot be bound."""
    handler = BounceHandler(app, verp)
    controller = Controller(
        handler,
        hostname=host,
        port=port,
        ready_timeout=10,
        data_size_limit=MAX_MESSAGE_BYTES,
        enable_SMTPUTF8=True,
        server_hostname=verp.domain,
        **smtp,
    )
    controller.start()
    return controller
