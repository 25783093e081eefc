"""Errors raised by mail transports.

Callers decide what to do with a message from the class alone:
``TransientMailError`` means "try again later", ``PermanentMailError`` means
"this message will never be accepted, do not retry". A temporary error is the outbox's
``RetryLater``, so a job whose mail the relay deferred is retried by the outbox's runner.
"""

from __future__ import annotations

from service.outbox.retry import RetryLater


class MailError(Exception):
    """A message could not be handed to the relay.

    ``code`` is the relay's SMTP reply code (``None`` when there was no reply,
    e.g. the connection failed) and ``response`` its answer text, decoded.
    ``refused`` maps each refused recipient to ``(code, text)`` when the relay
    refused recipients one by one; it is empty otherwise.
    """

    def __init__(
        self,
        code: int | None,
        response: str,
        refused: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        refused = dict(refused or {})
        # All arguments go to Exception so that pickling (e.g. by a task queue) keeps them.
        Exception.__init__(self, code, response, refused)
        self.code = code
        self.response = response
        self.refused = refused

    def __str__(self) -> str:
        return self.response if self.code is None else f"{self.code} {self.response}"


class TransientMailError(MailError, RetryLater):
    """Temporary failure (4xx reply, connection refused/reset/timeout): retry later.

    ``maybe_delivered``: the connection failed after the message itself was sent, so the
    relay may have taken it although its answer never came; sending it again may be the
    reader's second copy.
    """

    maybe_delivered = False


def connection_lost(reason: str, conn: object) -> TransientMailError:
    """A session that failed mid-transaction; ``maybe_delivered`` once `conn` had sent DATA."""
    error = TransientMailError(None, reason)
    error.maybe_delivered = bool(getattr(conn, "data_started", False))
    return error


class PermanentMailError(MailError):
    """Permanent failure (5xx reply, unusable address): never retry this message."""
