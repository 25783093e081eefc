"""CSV lists uploaded to be imported in the background, and a newsletter's list exported."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from service.http.schemas.common import Id, Model, Time
from service.lists import uploads
from service.lists.browse import STATUSES as READER_STATUSES
from service.lists.imports import CONSENT_MAX

Mode = Literal[uploads.MODES]  # type: ignore[valid-type]


class ImportChoices(Model):
    """What the readers of the list agreed to, as the CLI's `subscribers import` takes it;
    form fields of a multipart upload, or the query string of a `text/csv` body."""

    newsletter: str = Field(min_length=1, description="the newsletter's slug")
    mode: Mode | None = Field(
        None,
        description="`send-confirmation`: each reader gets the confirmation email; "
        "`confirmed` (with `consent`); `pending`: stored, mailed nothing",
    )
    consent: str | None = Field(
        None, max_length=CONSENT_MAX, description="where the readers agreed (alone: `confirmed`)"
    )


class ImportUpload(ImportChoices):
    """A multipart upload: the CSV as the part `file`, and the choices."""

    file: bytes = Field(description="the CSV (UTF-8, UTF-16 or cp1251; `,` `;` or tab)")


class ImportQuery(Model):
    """The choices of a `text/csv` body, in the query string."""

    newsletter: str | None = Field(None, description="the newsletter's slug (required)")
    mode: Mode | None = None
    consent: str | None = Field(None, max_length=CONSENT_MAX)
    filename: str | None = Field(None, max_length=uploads.FILENAME_MAX)


class ImportQueued(Model):
    """An upload accepted: poll `GET /api/v1/imports/<id>` (the `Location`)."""

    id: int
    status: str
    size: int


class ImportPath(Model):
    """An import named by id."""

    import_id: Id


class Row(Model):
    """A row of the file (its line number) and why it was not imported, or is suspect."""

    row: int
    reason: str


class Import(Model):
    """An import's status, progress, counts and report."""

    id: int
    newsletter: str | None
    mode: Mode
    filename: str
    status: Literal["queued", "running", "done", "failed"]
    size: int
    encoding: str | None
    rows_total: int | None
    rows_done: int
    counts: dict[str, int]
    bad_rows: list[Row] = Field(description=f"the first {uploads.REPORT_MAX}")
    bad_rows_total: int
    warnings: list[Row] = Field(description="likely typos, imported as typed")
    error: str | None = Field(description="why a failed import failed")
    created_at: Time
    started_at: Time | None
    finished_at: Time | None


class ExportQuery(Model):
    """Which readers to export."""

    status: Literal[READER_STATUSES] | None = None  # type: ignore[valid-type]
