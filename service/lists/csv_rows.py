"""Rows of a subscriber list as a spreadsheet or another mailing tool exported it (CSV).

Each row comes with its line number in the file, so a bad row is reported where a person
will find it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass(frozen=True)
class ImportRow:
    """One CSV row: its line number in the file, the address and the optional name.

    `problem` says why the row cannot be read as one (it is then rejected with that reason).
    """

    line: int
    email: Any
    name: Any = None
    problem: str | None = None


def read_csv(stream: TextIO) -> Iterator[ImportRow]:
    """Stream rows from a CSV with an `email` column (and optional `name`); raise ValueError
    if the header has no `email` column.

    A quote that is never closed makes the csv module read the following lines into one
    value; such a row comes with a `problem` naming the lines it swallowed.
    """
    reader = csv.DictReader(stream)
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    if "email" not in columns:
        raise ValueError("the CSV has no 'email' column in its first line")
    reader.fieldnames = columns
    previous_end = reader.line_num
    for record in reader:
        start, end = previous_end + 1, reader.line_num
        previous_end = end
        email, name = record.get("email"), record.get("name")
        if end > start and any(isinstance(v, str) and "\n" in v for v in (email, name)):
            yield ImportRow(
                start,
                email,
                name,
                problem=(
                    f"a quote opened on this line is never closed, so lines {start}-{end} "
                    "were read as one row and none of them was imported; close the quote "
                    "(or remove it) and import the file again"
                ),
            )
            continue
        yield ImportRow(start, email, name)
