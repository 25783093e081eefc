"""Admin API: CSV lists uploaded to be imported in the background (`POST /api/v1/imports`),
their progress and report (`GET /api/v1/imports/<id>`), and a newsletter's readers exported as
CSV, streamed (`GET /api/v1/newsletters/<slug>/export`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Blueprint, Response, request, stream_with_context, url_for
from pydantic import ValidationError
from sqlalchemy import select

from service.extensions import db
from service.http.auth import operator
from service.http.contract import endpoint, invalid
from service.http.errors import api_error
from service.http.schemas.common import SlugPath
from service.http.schemas.imports import (
    ExportQuery,
    Import,
    ImportChoices,
    ImportPath,
    ImportQuery,
    ImportQueued,
    ImportUpload,
)
from service.lists import uploads
from service.lists.subscribers import export_rows
from service.models import Newsletter

bp = Blueprint("imports", __name__, url_prefix="/api/v1")
CSV_TYPES = ("text/csv", "text/plain", "application/octet-stream")


def _choices() -> ImportChoices | Response:
    """The choices from the form (multipart) or, with a raw CSV body, the query string."""
    given = request.form if request.mimetype == "multipart/form-data" else request.args
    try:
        return ImportChoices.model_validate({key: given.get(key) for key in given})
    except ValidationError as exc:
        return invalid(exc)


@bp.post("/imports")
@endpoint(
    "write",
    validate=False,
    query=ImportQuery,
    body=ImportUpload,
    json_body=False,
    request_media=("multipart/form-data", "text/csv"),
    answers={202: ImportQueued},
    headers={202: {"Location": "the import's URL, to poll"}},
    errors={
        409: "`newsletter_archived`",
        413: "`too_large`: the file is over `IMPORT_MAX_MB` (20 MiB)",
        415: "`unsupported_media_type`: neither multipart/form-data nor text/csv",
        422: "`required`, `unknown_newsletter`, or `invalid`: `mode`, `consent` or an empty "
        "`file` (named in `field`)",
    },
    links={202: {"ShowImport": ("imports.show_import.get", {"import_id": "$response.body#/id"})}},
)
def create_import():
    """Import a CSV list into a newsletter, in the background: 202 `{"id", "status"}`, then
    poll `GET /api/v1/imports/<id>`.

    The file is a `multipart/form-data` part named `file` (with the fields below), or the whole
    body as `text/csv` (the fields in the query string). `newsletter`: its slug; `mode`:
    `send-confirmation` (each reader gets the confirmation email), `confirmed` (with `consent`:
    where the readers agreed; `consent` alone means `confirmed`) or `pending` (stored, mailed
    nothing). The file is read as the CLI's `subscribers import` reads one (UTF-8, UTF-16,
    cp1251; `,` `;` or tab); at most `IMPORT_MAX_MB` (20 MiB).
    """
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            return api_error(422, "required", "Send the CSV as a part named 'file'.", "file")
        data, filename = upload.read(), upload.filename or "upload.csv"
    elif request.mimetype in CSV_TYPES:
        data, filename = request.get_data(cache=False), request.args.get("filename") or "upload.csv"
    else:
        return api_error(
            415,
            "unsupported_media_type",
            "Send the CSV as multipart/form-data (a part named 'file') or as a text/csv body.",
        )
    choices = _choices()
    if isinstance(choices, Response):
        return choices
    slug = choices.newsletter
    newsletter = db.session.scalar(select(Newsletter).where(Newsletter.slug == slug[:100]))
    if newsletter is None:
        return api_error(422, "unknown_newsletter", f"No newsletter {slug[:100]!r}.", "newsletter")
    if newsletter.archived:
        return api_error(409, "newsletter_archived", "This newsletter is archived.", "newsletter")
    try:
        mode, consent = uploads.check_choices(choices.mode, choices.consent)
        job = uploads.start_upload(newsletter, data, mode, consent, filename, operator())
    except uploads.UploadInvalid as exc:
        db.session.rollback()
        return api_error(422, "invalid", str(exc), exc.field)
    where = {"Location": url_for("imports.show_import", import_id=job.id)}
    return ImportQueued(id=job.id, status=job.status, size=job.size), 202, where


@bp.get("/imports/<int:import_id>")
@endpoint("read", path=ImportPath, answers={200: Import}, errors={404: "no such import"})
def show_import(import_id: int):
    """An import's status (`queued`, `running`, `done`, `failed` with `error`), progress
    (`rows_done` of `rows_total`), counts, and the rows it could not take (`bad_rows`: row
    number and reason, the first 100; `bad_rows_total` counts them all)."""
    job = uploads.find_upload(import_id)
    if job is None:
        return api_error(404, "not_found", f"No import {import_id}.")
    body = Import.model_validate(uploads.describe(job))
    db.session.commit()
    return body


def _csv_lines(rows: Iterator[list[str]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@bp.get("/newsletters/<slug>/export")
@endpoint(
    "read",
    path=SlugPath,
    query=ExportQuery,
    answers={200: "text/csv"},
    media=("text/csv",),
    errors={404: "no such newsletter", 422: "`invalid`: `status`"},
)
def export_newsletter(slug: str, query: ExportQuery):
    """The newsletter's readers as CSV (the CLI's `subscribers export`), streamed in id order:
    memory stays flat whatever the list's size. `status` narrows it."""
    newsletter = db.session.scalar(select(Newsletter).where(Newsletter.slug == slug))
    if newsletter is None:
        return api_error(404, "not_found", f"No newsletter {slug[:100]!r}.")
    lines = stream_with_context(_csv_lines(export_rows(newsletter, query.status)))
    response = Response(lines, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}.csv"'
    return response
