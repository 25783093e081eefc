"""No secret survives a log line: link tokens, query-string values and API keys are redacted."""

from __future__ import annotations

import json
import logging
import secrets
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from service.logs import JsonFormatter
from service.redaction import MARK, RedactingFormatter, redact
from service.tokens import TokenService

SERVICE = {p: TokenService(["k" * 32], p) for p in ("confirm", "unsubscribe", "preferences")}
PAYLOADS = st.fixed_dictionaries(
    {"s": st.integers(0, 2**31), "v": st.integers(0, 2**31)},
    optional={"n": st.integers(0, 2**31), "x": st.text(max_size=40)},
)
PROSE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@st.composite
def tokens(draw: st.DrawFn) -> str:
    purpose = draw(st.sampled_from(sorted(SERVICE)))
    return SERVICE[purpose].dumps(draw(PAYLOADS))


def _api_key() -> str:
    return "nl_" + secrets.token_urlsafe(32)


# Where a secret shows up in a log line: a request line, a Referer, an exception, a message.
PLACES = (
    '"GET /confirm/{} HTTP/1.1" 200',
    '"POST /confirm/{}/resend HTTP/1.1" 202',
    '"POST /unsubscribe/{}/undo HTTP/1.1" 200 "https://news.example.org/unsubscribe/{}"',
    "GET /preferences/{}?locale=uk",
    "GET /api/v1/sends?api_key={}&limit=5",
    "GET /api/v1/sends?{}",
    "Exception on /preferences/{} [POST]",
    "BadSignature('Signature b\"{}\" does not match')",
    "{}",
)


@settings(max_examples=300)
@given(token=tokens(), place=st.sampled_from(PLACES), before=PROSE, after=PROSE)
def test_no_token_survives_wherever_it_is(token, place, before, after):
    line = redact(before + " " + place.format(token, token) + " " + after)
    assert token not in line
    assert token.rsplit(".", 1)[1] not in line  # not even its signature


@settings(max_examples=100)
@given(place=st.sampled_from(PLACES), before=PROSE)
def test_no_api_key_survives(place, before):
    key = _api_key()
    assert key not in redact(before + place.format(key, key))


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_redacting_twice_changes_nothing_more(text):
    once = redact(text)
    assert redact(once) == once


def test_what_a_log_reader_needs_stays():
    assert redact("did you mean daily? Retry in 2 s.") == "did you mean daily? Retry in 2 s."
    assert redact("GET /api/v1/sends?status=sending&limit=5 HTTP/1.1") == (
        f"GET /api/v1/sends?status={MARK}&limit={MARK} HTTP/1.1"
    )
    assert redact("GET /archive/daily HTTP/1.1") == "GET /archive/daily HTTP/1.1"
    sql = "INSERT INTO outbox_jobs (task, payload) VALUES (?, ?)"
    assert redact(sql) == sql
    assert redact("POST /confirm/x.y.z/resend") == f"POST /confirm/{MARK}/resend"


def _record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("service.x", logging.ERROR, __file__, 1, message, args, exc_info)


def test_the_apps_json_lines_carry_no_token_in_message_or_traceback():
    token = SERVICE["confirm"].dumps({"s": 1, "v": 0})
    try:
        raise ValueError(f"bad link /confirm/{token}")
    except ValueError as exc:
        record = _record("Exception on /confirm/%s [POST]", token, exc=exc)
    line = JsonFormatter().format(record)
    assert token not in line
    entry = json.loads(line)  # still one valid JSON object
    assert entry["message"] == f"Exception on /confirm/{MARK} [POST]"


def test_a_wrapped_formatter_redacts_what_the_inner_one_writes():
    key = _api_key()
    inner = logging.Formatter("%(levelname)s %(message)s")
    line = RedactingFormatter(inner).format(_record("GET /x?key=%s", key))
    assert line == f"ERROR GET /x?key={MARK}"
    try:
        raise RuntimeError(key)
    except RuntimeError as exc:
        assert key not in RedactingFormatter(inner).format(_record("boom", exc=exc))
    assert sys.exc_info() == (None, None, None)
