"""Secrets kept out of log lines: the tokens of readers' links, query strings and API keys.

A confirmation, unsubscribe or preferences link is the reader's password for that action, and
an API key is staff's. Every log line goes through `redact` on its way out: the app's JSON logs
(`service.logs`) and gunicorn's access and error logs (`gunicorn_web.RedactingLogger`, which
wraps each of its handlers' formatters in `RedactingFormatter`). What it removes:

- the token segment of `/confirm/…`, `/unsubscribe/…`, `/preferences/…` (`/confirm/[redacted]/resend`);
- every query-string value (`?email=[redacted]&api_key=[redacted]`; a bare word after `?` is
  replaced whole), names kept for reading the log;
- anything shaped like one of our signed tokens or API keys (`nl_…`), wherever it appears
  (an exception's text, a Referer).

`redact` is idempotent and leaves ordinary prose alone ("did you mean daily?").
"""

from __future__ import annotations

import logging
import re

MARK = "[redacted]"
TOKEN_PATHS = ("confirm", "unsubscribe", "preferences", "join")

# Characters that end a URL part in a log line (also JSON's and a formatter's quoting).
_STOP = r"\s\"'<>\\`"
_TOKEN_PATH = re.compile(rf"(/(?:{'|'.join(TOKEN_PATHS)})/)[^/?#{_STOP}]+")
# A query string follows a URL's path (not SQL's "VALUES (?, ?)" or a question's "?").
_QUERY = re.compile(rf"(?<=[\w/.~%-])\?([^#{_STOP}]+)")
_API_KEY = re.compile(r"nl_[A-Za-z0-9_-]{16,}")
# itsdangerous: payload (a leading "." when compressed), timestamp, signature (27+ characters).
_SIGNED = re.compile(r"\.?[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{4,12}\.[A-Za-z0-9_-]{20,}")


def _query(match: re.Match[str]) -> str:
    parts = []
    for part in match.group(1).split("&"):
        name, equals, _ = part.partition("=")
        parts.append(f"{name}={MARK}" if equals else (MARK if part else part))
    return "?" + "&".join(parts)


def redact(text: str) -> str:
    """`text` with link tokens, query-string values and API keys replaced by `[redacted]`."""
    if not text or (
        # None of the patterns can match: most log lines, checked at C speed.
        "?" not in text and "/" not in text and "nl_" not in text and text.count(".") < 2
    ):
        return text
    text = _API_KEY.sub("nl_" + MARK, text)
    text = _SIGNED.sub(MARK, text)
    text = _TOKEN_PATH.sub(r"\1" + MARK, text)
    return _QUERY.sub(_query, text)


class RedactingFormatter(logging.Formatter):
    """Wraps another formatter: whatever it writes (message, traceback) is `redact`ed."""

    def __init__(self, inner: logging.Formatter | None = None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


def redact_handlers(logger: logging.Logger) -> None:
    """Make every handler of `logger` write through `RedactingFormatter` (once each)."""
    for handler in logger.handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter))
