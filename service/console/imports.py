"""CSV import by upload in the console: the file, the newsletter, and what the readers agreed
to; the import runs as a background job (the same as `POST /api/v1/imports`), and its page
shows the progress live and then the rows it could not take."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from service import audit
from service.console import bp
from service.console.auth import action_form, requires
from service.console.pages import render
from service.extensions import db
from service.lists import uploads
from service.lists.newsletters import get_newsletter, list_newsletters

ACTIVE = ("queued", "running")


def _form(problem: str | None = None, field: str | None = None, status: int = 200,
          typed: dict[str, str] | None = None):  # fmt: skip
    newsletters = [n for n in list_newsletters() if not n.archived]
    return render("console/import_new.html", status=status, newsletters=newsletters,
                  problem=problem, field=field, typed=typed or {}, form=action_form())  # fmt: skip


@bp.get("/imports/new")
@requires("write")
def new_import():
    """The upload form."""
    return _form()


@bp.post("/imports")
@requires("write")
def start_import():
    """Store the file and queue its import; then show its progress."""
    upload = request.files.get("file")
    typed = {name: request.form.get(name, "")[:200] for name in ("newsletter", "mode", "consent")}
    newsletter = get_newsletter(typed["newsletter"][:100])
    if newsletter is None or newsletter.archived:
        return _form(_("Choose a newsletter that takes readers."), "newsletter", 422, typed)
    if upload is None or not upload.filename:
        return _form(_("Choose the CSV file to import."), "file", 422, typed)
    try:
        mode, consent = uploads.check_choices(
            request.form.get("mode") or None, request.form.get("consent") or None
        )
        job = uploads.start_upload(newsletter, upload.read(), mode, consent, upload.filename,
                                   audit.Actor("console", current_user.email))  # fmt: skip
    except uploads.UploadInvalid as exc:
        db.session.rollback()
        return _form(str(exc), exc.field, 422, typed)
    return redirect(url_for("console.show_import", import_id=job.id))


def _upload_or_404(import_id: int) -> dict:
    found = uploads.find_upload(import_id)
    if found is None:
        abort(404)
    return uploads.describe(found)


@bp.get("/imports/<int:import_id>")
def show_import(import_id: int):
    """An import's progress, counts and bad rows."""
    return render("console/import.html", upload=_upload_or_404(import_id), active=ACTIVE)


@bp.get("/imports/<int:import_id>/live")
def import_live(import_id: int):
    """The changing part of an import's page (htmx reloads it while the import runs)."""
    return render("console/_import_live.html", upload=_upload_or_404(import_id), active=ACTIVE)
