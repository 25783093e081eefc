"""Newsletters in the console: the list, a form to create one and to edit it (names and
descriptions in English and Ukrainian, the cron schedule with its next five runs, time zone,
sender, minimum new articles, allowed origins, rate limit), and the embed snippet with a live
box. The same service functions as `POST /api/v1/newsletters` and `PATCH .../<slug>`, with
the member in the audit log; viewers read, editors change."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from service import audit
from service.console import bp
from service.console.auth import action_form, requires
from service.console.clock import next_runs
from service.console.newsletter_form import (
    api_fields,
    embed_snippets,
    posted,
    problems,
    values_of,
)
from service.console.pages import render
from service.lists.newsletters import (
    NewsletterExists,
    NewsletterInvalid,
    create_newsletter,
    get_newsletter,
    list_newsletters,
    update_newsletter,
)
from service.models import Newsletter
from service.sending import scheduling


def _actor() -> audit.Actor:
    return audit.Actor("console", current_user.email)


def _newsletter_or_404(slug: str) -> Newsletter:
    newsletter = get_newsletter(slug)
    if newsletter is None:
        abort(404)
    return newsletter


def _form(newsletter: Newsletter | None, values: dict[str, str], errors: dict[str, str],
          status: int = 200):  # fmt: skip
    return render(
        "console/newsletter_form.html",
        status=status,
        newsletter=newsletter,
        values=values,
        errors=errors,
        runs=next_runs(values.get("schedule"), values.get("timezone")),
        snippets=embed_snippets(newsletter.slug) if newsletter else None,
        member=current_user,
        form=action_form(),
    )


@bp.get("/newsletters")
def newsletters():
    """Every newsletter with its schedule, time zone and confirmed readers."""
    rows = [
        {
            "newsletter": n,
            "confirmed": scheduling.readers_by_status(n.id).get("confirmed", 0),
            "next": (next_runs(n.schedule_cron, n.timezone, count=1) or [None])[0],
        }
        for n in list_newsletters()
    ]
    return render("console/newsletters.html", rows=rows, member=current_user)


@bp.get("/newsletters/next-runs")
def next_runs_part():
    """The next runs of the schedule being typed (htmx swaps it in under the field)."""
    schedule = request.args.get("schedule", "")[:100]
    timezone = request.args.get("timezone", "")[:64]
    return render("console/_next_runs.html", runs=next_runs(schedule, timezone))


@bp.get("/newsletters/new")
@requires("write")
def new_newsletter():
    """An empty form for a new newsletter."""
    return _form(None, values_of(None), {})


@bp.post("/newsletters/new")
@requires("write")
def create():
    """Create the newsletter, or show the form again with each field's problem (or, for
    "Preview", with the schedule's next runs and nothing saved)."""
    values = posted(request.form)
    fields = api_fields(values)
    errors = problems(fields)
    if "preview" in request.form or errors:
        return _form(None, values, errors, status=422 if errors else 200)
    try:
        made = create_newsletter(values["slug"], fields, actor=_actor())
    except NewsletterInvalid as exc:
        return _form(None, values, {exc.field: exc.message}, status=422)
    except NewsletterExists:
        return _form(None, values, {"slug": _("A newsletter with this slug exists already.")},
                     status=409)  # fmt: skip
    flash(_("Newsletter %(name)s created.", name=made.name))
    return redirect(url_for("console.edit_newsletter", slug=made.slug))


@bp.get("/newsletters/<slug>")
def edit_newsletter(slug: str):
    """The newsletter's settings (a form for editors, the same fields read-only for viewers)
    and its embed snippet with a live box."""
    newsletter = _newsletter_or_404(slug)
    return _form(newsletter, values_of(newsletter), {})


@bp.post("/newsletters/<slug>")
@requires("write")
def update(slug: str):
    """Save the changes, or show the form again with each field's problem (or the preview)."""
    newsletter = _newsletter_or_404(slug)
    values = {**posted(request.form), "slug": newsletter.slug}
    fields = api_fields(values)
    errors = problems(fields)
    if "preview" in request.form or errors:
        return _form(newsletter, values, errors, status=422 if errors else 200)
    update_newsletter(newsletter, fields, actor=_actor())
    flash(_("Changes to %(name)s saved.", name=newsletter.name))
    return redirect(url_for("console.edit_newsletter", slug=newsletter.slug))
