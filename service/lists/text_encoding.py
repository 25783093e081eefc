"""Which encoding a text file a person exported (a CSV from Excel, say) is in.

In order: a byte-order mark (UTF-8 or UTF-16), UTF-16 without one (NUL bytes between ASCII),
strict UTF-8, then cp1251 when the non-ASCII letters it gives are Cyrillic (what Excel writes
on a Ukrainian or Russian Windows), then charset-normalizer's best guess. A file none of these
read raises `UnknownEncoding` naming the first line that is not UTF-8 and how to save it so.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import charset_normalizer

SAMPLE_BYTES = 1 << 20
CHUNK_BYTES = 1 << 16
SAVE_AS_UTF8 = (
    "save it as UTF-8 (Excel: File > Save As > 'CSV UTF-8 (Comma delimited)'; "
    "LibreOffice: Save As > Edit filter settings > Character set 'Unicode (UTF-8)')"
)


class UnknownEncoding(ValueError):
    """The file is in no encoding we can tell; the message says where and what to do."""


def detect_encoding(path: Path) -> str:
    """The codec name to open `path` with (`utf-8-sig`, `utf-16`, `utf-8`, `cp1251`, ...)."""
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        utf16 = _utf16_without_bom(sample)
        if utf16:
            return utf16
    bad_line = _first_line_not_utf8(path)
    if bad_line is None:
        return "utf-8"
    if _looks_cyrillic(sample):
        return "cp1251"
    guess = charset_normalizer.from_bytes(sample).best()
    if guess is not None and guess.encoding not in {"utf_8", "ascii"}:
        return guess.encoding
    raise UnknownEncoding(
        f"line {bad_line} is not UTF-8 and the encoding is unclear: {SAVE_AS_UTF8}"
    )


def _utf16_without_bom(sample: bytes) -> str | None:
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > len(odd) * 0.3 and even.count(0) < len(even) * 0.05:
        return "utf-16-le"
    if even.count(0) > len(even) * 0.3 and odd.count(0) < len(odd) * 0.05:
        return "utf-16-be"
    return None


def _first_line_not_utf8(path: Path) -> int | None:
    """The line number of the first byte that is not UTF-8, or None if the whole file is."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + chunk[: max(exc.start, 0)].count(b"\n")
            line += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return line
    return None


def _looks_cyrillic(sample: bytes) -> bool:
    try:
        text = sample.decode("cp1251")
    except UnicodeDecodeError:
        return False
    letters = [c for c in text if ord(c) > 127 and c.isalpha()]
    cyrillic = [c for c in letters if "\u0400" <= c <= "\u04ff"]
    return bool(letters) and len(cyrillic) >= 0.8 * len(letters)
