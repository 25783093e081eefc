"""CSV lists uploaded over the API, imported in the background: the upload is stored with the
import's choices and an outbox job in one transaction; a worker runs the same import as the
CLI's (`imports.import_subscribers` over `csv_rows.read_csv`), recording progress as each batch
commits, then the counts and a report of the rows it could not take (capped), and drops the
file itself, which holds addresses."""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import select

from service import audit, outbox
from service.extensions import db
from service.lists.csv_rows import ImportRow, read_csv
from service.lists.imports import CONSENT_MAX, ImportMode, ImportReport, import_subscribers
from service.lists.text_encoding import SAVE_AS_UTF8, UnknownEncoding, detect_encoding
from service.models import ListImport, Newsletter, utcnow
from service.task_names import TaskName

log = logging.getLogger(__name__)

STARTED = audit.event("import.started", "a CSV list was uploaded to be imported")
REPORT_MAX = 100  # bad rows (and warnings) kept in the report; the total is counted
FILENAME_MAX = 200
MODES = tuple(m.value for m in ImportMode)
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


class UploadInvalid(ValueError):
    """The upload's choices cannot be used; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_choices(mode: object, consent: object) -> tuple[ImportMode, str | None]:
    """The import mode and consent text, as the CLI takes them: `confirmed` needs `consent`
    (where the readers agreed), and `consent` alone means `confirmed`."""
    if consent is not None and not isinstance(consent, str):
        raise UploadInvalid("consent", "consent must be text.")
    if consent is not None and (len(consent) > CONSENT_MAX or not consent.isprintable()):
        raise UploadInvalid("consent", f"consent is at most {CONSENT_MAX} printable characters.")
    consent = " ".join((consent or "").split()) or None
    if mode in (None, "") and consent is not None:
        mode = ImportMode.CONFIRMED.value
    if mode not in MODES:
        raise UploadInvalid(
            "mode",
            "mode is one of send-confirmation (mail each reader the confirmation email), "
            "confirmed (with consent: where the readers agreed) or pending (store, mail nothing).",
        )
    if mode == ImportMode.CONFIRMED and consent is None:
        raise UploadInvalid(
            "consent", "a confirmed import needs consent: where the readers agreed."
        )
    return ImportMode(mode), consent  # type: ignore[arg-type]


def start_upload(
    newsletter: Newsletter,
    data: bytes,
    mode: ImportMode,
    consent: str | None,
    filename: str,
    actor: audit.Actor | None,
) -> ListImport:
    """Store the upload and its outbox job (committed together); the import runs in a worker."""
    if not data.strip():
        raise UploadInvalid(
            "file", "the file is empty: it needs a header line such as 'email,name'."
        )
    name = "".join(c for c in filename if c.isprintable())[:FILENAME_MAX]
    upload = ListImport(
        newsletter_id=newsletter.id,
        mode=mode.value,
        consent=consent,
        filename=name,
        status=QUEUED,
        data=data,
        size=len(data),
        actor=f"{actor.via}:{actor.name}"[:100] if actor else "",
    )
    db.session.add(upload)
    db.session.flush()
    audit.record(STARTED, actor, f"import:{upload.id}", newsletter=newsletter.slug, mode=mode.value)
    outbox.enqueue(TaskName.RUN_IMPORT, {"import_id": upload.id})
    db.session.commit()
    return upload


def _text(data: bytes) -> tuple[str, str]:
    """The upload as text and the encoding it was read in (detected as the CLI detects a file's)."""
    with tempfile.NamedTemporaryFile(suffix=".csv") as handle:
        handle.write(data)
        handle.flush()
        encoding = detect_encoding(Path(handle.name))
    return data.decode(encoding), encoding


class _Progress:
    """Counts rows as the import takes them; the count goes into the row of the upload and is
    committed with each batch of the import."""

    def __init__(self, upload: ListImport) -> None:
        self.upload, self.done = upload, 0

    def rows(self, rows: Iterable[ImportRow]) -> Iterator[ImportRow]:
        for row in rows:
            self.done += 1
            self.upload.rows_done = self.done
            yield row


def run_upload(import_id: int) -> None:
    """Run one uploaded import (the worker's job). A file that cannot be read fails the
    import with the reason; the import itself is the CLI's, a batch per transaction."""
    upload = db.session.get(ListImport, import_id)
    if upload is None or upload.status != QUEUED:
        return  # gone with its newsletter, or already run
    newsletter = db.session.get(Newsletter, upload.newsletter_id)
    upload.status, upload.started_at = RUNNING, utcnow()
    db.session.commit()
    bad: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    totals = {"bad": 0}

    def on_error(line: int, reason: str) -> None:
        totals["bad"] += 1
        if len(bad) < REPORT_MAX:
            bad.append({"row": line, "reason": reason})

    def on_warning(line: int, reason: str) -> None:
        if len(warnings) < REPORT_MAX:
            warnings.append({"row": line, "reason": reason})

    try:
        text, upload.encoding = _text(upload.data or b"")
        upload.rows_total = sum(1 for _ in read_csv(io.StringIO(text, newline="")))
        db.session.commit()
        progress = _Progress(upload)
        report = import_subscribers(
            progress.rows(read_csv(io.StringIO(text, newline=""))),
            newsletter,  # type: ignore[arg-type]
            mode=ImportMode(upload.mode),
            consent=upload.consent,
            on_error=on_error,
            on_warning=on_warning,
        )
    except (UnknownEncoding, UnicodeDecodeError, ValueError, csv.Error) as exc:
        db.session.rollback()
        readable = isinstance(exc, ValueError) and not isinstance(exc, UnicodeDecodeError)
        reason = str(exc) if readable else f"the file cannot be read ({exc}); {SAVE_AS_UTF8}"
        _end(import_id, FAILED, bad, warnings, totals["bad"], None, reason)
        return
    except Exception as exc:
        db.session.rollback()
        log.exception("import %s failed", import_id)
        _end(import_id, FAILED, bad, warnings, totals["bad"], None, f"unexpected error: {exc!r}")
        raise
    _end(import_id, DONE, bad, warnings, totals["bad"], report, None)


def _end(
    import_id: int,
    status: str,
    bad: list[dict[str, Any]],
    warnings: list[dict[str, Any]],
    bad_total: int,
    report: ImportReport | None,
    error: str | None,
) -> None:
    upload = db.session.get(ListImport, import_id, populate_existing=True)
    if upload is None:
        return
    upload.status, upload.finished_at, upload.error = status, utcnow(), error
    upload.bad_rows, upload.bad_rows_total, upload.warnings = bad, bad_total, warnings
    if report is not None:
        upload.counts = asdict(report)
    upload.data = None  # the addresses are in the list now, or nowhere
    db.session.commit()


def find_upload(import_id: int) -> ListImport | None:
    """An upload by id."""
    return db.session.get(ListImport, import_id)


def describe(upload: ListImport) -> dict[str, Any]:
    """An upload as the API shows it: status, progress, counts and the report of bad rows."""
    slug = db.session.scalar(select(Newsletter.slug).where(Newsletter.id == upload.newsletter_id))
    return {
        "id": upload.id,
        "newsletter": slug,
        "mode": upload.mode,
        "filename": upload.filename,
        "status": upload.status,
        "size": upload.size,
        "encoding": upload.encoding,
        "rows_total": upload.rows_total,
        "rows_done": upload.rows_done,
        "counts": upload.counts or {},
        "bad_rows": upload.bad_rows or [],
        "bad_rows_total": upload.bad_rows_total,
        "warnings": upload.warnings or [],
        "error": upload.error,
        "created_at": upload.created_at.isoformat(),
        "started_at": upload.started_at.isoformat() if upload.started_at else None,
        "finished_at": upload.finished_at.isoformat() if upload.finished_at else None,
    }
