"""Mail headers made from untrusted text: what a reader, the CMS or an operator typed.

`header` builds every header that carries such text: the To and From display names, the
Subject and the List-Id phrase. It writes the header lines itself instead of handing the
text to the email package, which decodes RFC 2047 encoded words when it refolds a header
(Python 3.11.7 here): `=?utf-8?q?x=0D=0ABcc:_a@b?=` in a name became a real `Bcc:` line.

Why nothing that enters `header` can become header structure:

- the text is first made one line of display text (`display_text`): every control
  character (CR, LF, NUL...), line or paragraph separator, bidi control and other invisible
  format character becomes a space (ZWJ/ZWNJ, which scripts and emoji need, stay), runs of
  spaces become one, and the text is cut to `MAX_TEXT` characters;
- that text is then written as it is only when it is printable ASCII that no reader decodes
  (no `=?`; in a display name only atoms and spaces, or a quoted string without `"` or `\\`)
  and the whole header fits on one 78-character line; otherwise as UTF-8 base64 encoded
  words, whose characters are letters, digits, `+/=?` and `-` only;
- an address (in angle brackets) must be a plain `local@domain` with no space, control,
  bracket, quote, separator or encoded word in it, and a list id only letters, digits, `-`
  and dots, else ValueError: addresses come from the parser, list ids from slugs;
- lines are joined by CRLF and a space, so each header is exactly one header line.

The result is a header object in the sense of `email.policy`: `EmailMessage` stores it
unchanged and calls its `fold`, so the email package never parses the text again.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Callable
from email.headerregistry import Address

from service.addresses import ENCODED_WORD

MAX_TEXT = 300  # characters of display text a header keeps; the rest is cut with "…"
LINE = 78  # RFC 5322's recommended line length
_ENCODED_WORD_BYTES = 39  # base64 of 39 bytes: 52 characters, a 64-character encoded word
_KEEP_FORMAT = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: needed by Persian, Indic, emoji
_NAME = re.compile(r"[A-Za-z0-9-]+")
_PRINTABLE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?: [A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*")
_QUOTABLE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")
_LIST_ID = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")  # RFC 2919: a dot-atom
_ADDRESS = re.compile(r'[^\s<>()\[\]\\,;:"@]+@[^\s<>()\[\]\\,;:"@]+')


class Header(str):
    """A finished header: its value as a reader sees it (decoded), and the lines it is
    written as. `addresses` holds the address of a To or From header."""

    name: str
    addresses: tuple[Address, ...]
    _lines: tuple[str, ...]

    def __new__(
        cls, name: str, value: str, lines: tuple[str, ...], addresses: tuple[Address, ...] = ()
    ) -> Header:
        self = super().__new__(cls, value)
        self.name, self._lines, self.addresses = name, lines, addresses
        return self

    def fold(self, *, policy) -> str:
        """The header as written, each line ending in the policy's line separator."""
        return "".join(line + policy.linesep for line in self._lines)


def display_text(text: str | None, limit: int = MAX_TEXT) -> str:
    """`text` as one line of visible text: controls, separators and bidi controls are spaces,
    runs of spaces one space, no space at either end, at most `limit` characters."""
    chars = [" " if _invisible(c) else c for c in text or ""]
    clean = " ".join("".join(chars).split())
    if len(clean) > limit:
        clean = clean[: limit - 1].rstrip() + "…"
    return clean


def _invisible(char: str) -> bool:
    category = unicodedata.category(char)
    if category == "Cf":
        return char not in _KEEP_FORMAT
    return category in ("Cc", "Cs", "Zl", "Zp", "Zs")


def header(name: str, text: str | None, address: str | None = None) -> Header:
    """The header `name` carrying untrusted `text`, with `address` in angle brackets if given.

    `header("Subject", title)`, `header("To", reader_name, "olena@gmail.com")`,
    `header("List-Id", newsletter_name, "daily.news.example.org")`. The text is shown as
    `display_text(text)`; with no text left, a To or From header is the bare address.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a header name: {name!r}")
    shown = display_text(text)
    if address is None:
        return Header(name, shown, _fold(name, _display(name, shown, _unstructured, 0)))
    is_list = name.lower() == "list-id"
    plain = (_LIST_ID if is_list else _ADDRESS).fullmatch(address) and address.isprintable()
    if not plain or ENCODED_WORD.search(address):
        raise ValueError(f"not a plain {'list id' if is_list else 'address'}: {address!r}")
    angle = f"<{address}>"
    if is_list:
        value = f"{shown} {angle}" if shown else angle
        return Header(
            name, value, _fold(name, [*_display(name, shown, _phrase, 1 + len(angle)), angle])
        )
    local, _, domain = address.rpartition("@")
    addresses = (Address(display_name=shown, username=local, domain=domain),)
    if not shown:
        return Header(name, address, (f"{name}: {address}",), addresses)
    words = [*_display(name, shown, _phrase, 1 + len(angle)), angle]
    return Header(name, str(addresses[0]), _fold(name, words), addresses)


def _unstructured(shown: str) -> str | None:
    """Text as it is, if no reader would decode or mangle it."""
    return shown if "=?" not in shown and _PRINTABLE.fullmatch(shown) else None


def _phrase(shown: str) -> str | None:
    """A display name as atoms, or as one quoted string, if no reader would decode it."""
    if "=?" in shown:
        return None
    if _ATOMS.fullmatch(shown):
        return shown
    return f'"{shown}"' if _QUOTABLE.fullmatch(shown) else None


def _display(name: str, shown: str, plain: Callable[[str], str | None], rest: int) -> list[str]:
    """The words that show `shown`: its plain form if the header then fits on one line
    (`rest` more characters follow it), else encoded words."""
    if not shown:
        return []
    written = plain(shown)
    if written is not None and len(name) + 2 + len(written) + rest <= LINE:
        return [written]
    return _encoded_words(shown)


def _encoded_words(shown: str) -> list[str]:
    """RFC 2047 B-encoded words of whole characters, each at most 64 characters long."""
    chunks: list[str] = []
    chunk, size = "", 0
    for char in shown:
        width = len(char.encode("utf-8"))
        if size + width > _ENCODED_WORD_BYTES:
            chunks.append(chunk)
            chunk, size = "", 0
        chunk += char
        size += width
    chunks.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(c.encode()).decode('ascii')}?=" for c in chunks]


def _fold(name: str, words: list[str]) -> tuple[str, ...]:
    """The header's lines: as many words on a line as fit in 78 characters, at least one."""
    if not words:
        return (f"{name}:",)
    lines = [f"{name}: {words[0]}"]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) <= LINE:
            lines[-1] += " " + word
        else:
            lines.append(" " + word)
    return tuple(lines)
