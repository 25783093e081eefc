"""Rows of a subscriber list as a spreadsheet or another mailing tool exported it (CSV).

The separator is read from the header line: `,`, `;` (Excel where the decimal mark is a
comma, as on a Ukrainian Windows) or a tab. The columns are found by the names people's
tools give them: ours and listmonk's (`email`, `name`), Mailchimp's (`Email Address`, `First
Name`, `Last Name`), Substack's (`email`, ...), and the usual variants (`E-mail`, `Full
name`). A row the exporting tool marks as not to be mailed (an unsubscribed or cleaned
status, Substack's `email_disabled`, Mailchimp's `UNSUB_TIME`) comes with a `problem`.
Each row carries its first line number in the file, right after blank lines and quoted
line breaks, so a bad row is reported where a person will find it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}
EMAIL_COLUMNS = ("email", "email address", "e mail", "e mail address", "mail", "emailaddress")
NAME_COLUMNS = ("name", "full name", "fullname", "display name", "ім'я", "імʼя")
FIRST_NAME_COLUMNS = ("first name", "firstname", "fname", "given name")
LAST_NAME_COLUMNS = ("last name", "lastname", "lname", "surname", "family name")
# A row the exporting tool says is not to be mailed, by column: the values that say so.
NOT_TO_MAIL = {
    "status": {"unsubscribed", "cleaned", "bounced", "blocklisted", "blocked", "complained"},
    "email disabled": {"true", "yes", "1"},
}
LEFT_AT_COLUMNS = ("unsub time", "clean time")


@dataclass(frozen=True)
class ImportRow:
    """One CSV row: its line number in the file, the address and the optional name.

    `problem` says why the row cannot be imported (it is then rejected with that reason).
    """

    line: int
    email: Any
    name: Any = None
    problem: str | None = None


def column_key(header: str) -> str:
    """A header as compared: lowercase, no BOM, `_`/`-`/spaces as one space."""
    return " ".join(re.split(r"[\s_\-]+", header.replace("\ufeff", "").strip().lower()))


@dataclass(frozen=True)
class _Columns:
    """Where the wanted values are in a row (indexes), found from the header."""

    email: int
    name: int | None
    first: int | None
    last: int | None
    flags: dict[int, str]  # index -> column key, for the "not to mail" checks

    @classmethod
    def find(cls, header: list[str], separator: str) -> _Columns:
        keys = [column_key(h) for h in header]

        def first_of(names: tuple[str, ...]) -> int | None:
            return next((keys.index(n) for n in names if n in keys), None)

        email = first_of(EMAIL_COLUMNS)
        if email is None:
            raise ValueError(_no_address_column(header, separator))
        flags = {
            i: key for i, key in enumerate(keys) if key in NOT_TO_MAIL or key in LEFT_AT_COLUMNS
        }
        return cls(
            email,
            first_of(NAME_COLUMNS),
            first_of(FIRST_NAME_COLUMNS),
            first_of(LAST_NAME_COLUMNS),
            flags,
        )

    def read(self, line: int, row: list[str]) -> ImportRow:
        def cell(index: int | None) -> str | None:
            return row[index] if index is not None and index < len(row) else None

        name = cell(self.name)
        if name is None:
            name = " ".join(part for part in (cell(self.first), cell(self.last)) if part) or None
        return ImportRow(line, cell(self.email) or "", name, self._not_to_mail(row))

    def _not_to_mail(self, row: list[str]) -> str | None:
        for index, key in self.flags.items():
            value = (row[index] if index < len(row) else "").strip()
            if key in LEFT_AT_COLUMNS and value:
                return f"the file says this reader left ({key.upper()} {value}); not imported"
            if value.lower() in NOT_TO_MAIL.get(key, ()):
                return f"the file marks this reader {key} {value!r}; not imported"
        return None


def _no_address_column(header: list[str], separator: str) -> str:
    shown = ", ".join(repr(h.replace("\ufeff", "").strip()) for h in header) or "nothing"
    message = (
        f"no column of addresses in the first line: it has {shown} "
        f"(read as {SEPARATORS.get(separator, repr(separator))}-separated); "
        "name the column of addresses 'email'"
    )
    if any("@" in h for h in header):
        message += " (the first line looks like data: add a header line such as 'email,name')"
    return message


def _separator(header: str) -> str:
    """The separator the header line uses: the most frequent of `,`, `;` and tab."""
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def read_csv(lines: Iterable[str]) -> Iterator[ImportRow]:
    """Stream rows from CSV text (an iterable of lines, as an open file is); raise ValueError
    naming the columns found if none holds addresses.

    A quote that is never closed makes the csv module read the following lines into one
    value; such a row comes with a `problem` naming the lines it swallowed.
    """
    lines = iter(lines)
    blank = 0
    for header_line in lines:
        if header_line.strip():
            break
        blank += 1
    else:
        raise ValueError("the file is empty: it needs a header line such as 'email,name'")
    separator = _separator(header_line)
    reader = csv.reader(chain([header_line], lines), delimiter=separator)
    header = _next_row(reader, blank)
    if header is None:
        raise ValueError("the file is empty: it needs a header line such as 'email,name'")
    columns = _Columns.find(header, separator)
    previous_end = blank + reader.line_num
    while (row := _next_row(reader, blank)) is not None:
        start, end = previous_end + 1, blank + reader.line_num
        previous_end = end
        if not any(cell.strip() for cell in row):
            continue
        item = columns.read(start, row)
        if end > start and _swallowed(item):
            yield ImportRow(
                start,
                item.email,
                item.name,
                problem=(
                    f"a quote opened on this line is never closed, so lines {start}-{end} "
                    "were read as one row and none of them was imported; close the quote "
                    "(or remove it) and import the file again"
                ),
            )
            continue
        yield item


def _next_row(reader: Any, blank: int) -> list[str] | None:
    """The reader's next row, None at the end; what the csv module cannot read (a field over
    its size limit) is a ValueError naming the line."""
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        raise ValueError(
            f"line {blank + reader.line_num}: {exc}; nothing after it was read"
        ) from None


def _swallowed(item: ImportRow) -> bool:
    """Does a row read over several lines hold what looks like more rows (an open quote)?"""
    if "\n" in item.email:
        return True
    name = item.name or ""
    return "\n" in name and "@" in name.split("\n", 1)[1]
