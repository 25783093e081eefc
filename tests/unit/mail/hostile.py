"""Hostile text for header tests, and how a mail client reads a message's headers back.

`hostile_text` mixes arbitrary Unicode with the pieces attacks are made of: encoded-word
syntax that decodes to CR LF and a header, CR, LF, NUL, U+2028/2029, bidi controls,
address punctuation, and very long text. `read_back` parses a serialized message the way a
receiving client does, keeping the raw header lines so that display text is decoded by the
RFC 2047 rules (whitespace between adjacent encoded words is dropped, section 6.2).
"""

from __future__ import annotations

import email
import email.policy
import unicodedata
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import EmailMessage

from hypothesis import strategies as st

PIECES = [
    "=?utf-8?q?x=0D=0ABcc:_someone@example.net?=",
    "=?utf-8?b?DQpCY2M6IGV2aWxAZXhhbXBsZS5uZXQNCg==?=",  # "\r\nBcc: evil@example.net\r\n"
    "=?UTF-8?Q?=0D=0AContent-Type:_text/html?=",
    "=?iso-8859-1?q?=0AReply-To:_x@evil.example?=",
    "=?",
    "?=",
    "=?utf-8?q?",
    "=0D=0A",
    "\r",
    "\n",
    "\r\n",
    "\r\n\r\n",
    "\x00",
    "\t",
    "\x0b",
    "\x0c",
    "\x85",
    "\u2028",
    "\u2029",
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u200f",  # right-to-left mark
    "\u200d",  # zero-width joiner (kept)
    "\ufeff",
    "\ud800",  # a lone surrogate, as JSON can carry one
    "Bcc: victim@example.net",
    "Reply-To: x@evil.example",
    "Content-Type: text/html",
    "Subject: pwned",
    " ",
    "  ",
    "<",
    ">",
    '"',
    "\\",
    ",",
    ";",
    ":",
    "@",
    "(",
    ")",
    ".",
    "Олена",
    "שלום",
    "مرحبا",
    "👨\u200d👩\u200d👧",
    "e\u0301",
]
hostile_text = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=12).map("".join),
    st.text(min_size=200, max_size=1200),
    st.lists(st.sampled_from(PIECES), min_size=40, max_size=120).map("".join),
)


@dataclass
class ReadBack:
    """A message as a receiving client reads it."""

    message: EmailMessage  # parsed with email.policy.default
    names: list[str]  # every header name, in order
    raw: dict[str, str]  # each header's raw value, unfolded (the last one of a name)
    lines: list[bytes]  # the raw header lines

    def shown(self, name: str) -> str:
        """The display text of header `name`: a Subject's text, the display name of a To or
        From (empty for a bare address), the phrase of a List-Id."""
        value = self.raw[name]
        if name not in ("To", "From", "List-Id"):
            return str(make_header(decode_header(value))) if "=?" in value else value
        phrase, angle, _ = value.rpartition("<")
        phrase = phrase.rstrip(" ") if angle else ""
        if "=?" in phrase:
            return str(make_header(decode_header(phrase)))
        if len(phrase) > 1 and phrase[0] == phrase[-1] == '"':
            return phrase[1:-1]
        return phrase


def read_back(data: bytes) -> ReadBack:
    """Parse `data` (a whole message) as a client would."""
    head = data.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    raw: dict[str, str] = {}
    names: list[str] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            raw[names[-1]] += line.decode("utf-8")
            continue
        name, _, value = line.decode("utf-8").partition(":")
        names.append(name)
        raw[name] = value.lstrip(" ")
    if data.isascii():
        message = email.message_from_bytes(data, policy=email.policy.default)
    else:  # SMTPUTF8 (RFC 6532): header fields in UTF-8, which the bytes parser leaves escaped
        message = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)
    return ReadBack(message=message, names=names, raw=raw, lines=lines)


def assert_one_line_of_text(text: str) -> None:
    """What `display_text` promises: nothing that breaks a line or reorders display."""
    for char in text:
        category = unicodedata.category(char)
        assert category not in ("Cc", "Cs", "Zl", "Zp") and (
            category != "Cf" or char in "\u200c\u200d"
        ), f"{char!r} ({category}) left in {text!r}"
        assert category != "Zs" or char == " ", f"{char!r} left in {text!r}"
    assert "  " not in text and text == text.strip()
