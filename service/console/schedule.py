"""The sends in the console: every send, filtered by newsletter and status, a page at a
time, and a one-off send scheduled at a local time (read in the newsletter's time zone). The
same service functions as `GET /api/v1/sends` and `POST /api/v1/newsletters/<slug>/sends`,
with the member in the audit log."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from service import audit
from service.console import bp
from service.console.auth import action_form, requires
from service.console.clock import in_words
from service.console.pages import render
from service.lists.newsletters import get_newsletter, list_newsletters
from service.sending import scheduling, summary

PAGE = 50


def nobody_yet() -> str:
    """Why a newsletter without confirmed readers cannot be sent, and what to do about it."""
    return _("Nobody to send to yet: no reader has confirmed. Import a list of readers, or "
             "put the signup box on a page and wait for confirmations.")  # fmt: skip


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 19 else None


def _sends_page(values: dict[str, str], errors: dict[str, str], status: int = 200,
                no_readers: bool = False):  # fmt: skip
    """The list under the filters in the query, with the schedule form (`values`, `errors`)."""
    newsletters = list_newsletters()
    by_slug = {n.slug: n for n in newsletters}
    chosen = by_slug.get(request.args.get("newsletter", ""))
    wanted = request.args.get("status", "")
    wanted = wanted if wanted in summary.STATUSES else ""
    found = summary.list_sends(chosen.id if chosen else None, wanted or None,
                               _number(request.args.get("before")), PAGE + 1)  # fmt: skip
    shown = found[:PAGE]
    rows = [{"send": s, "when": in_words(s.scheduled_at, s.newsletter.timezone)} for s in shown]
    args = {"newsletter": chosen.slug if chosen else "", "status": wanted}
    return render(
        "console/sends.html",
        status=status,
        rows=rows,
        args={key: value for key, value in args.items() if value},
        next_before=shown[-1].id if len(found) > PAGE else None,
        newsletters=newsletters,
        statuses=summary.STATUSES,
        values=values,
        errors=errors,
        no_readers=no_readers,
        member=current_user,
        form=action_form(),
    )


@bp.get("/sends")
def sends():
    """Sends newest first, fifty at a time, by newsletter and status; the form to schedule
    one for those who may send."""
    return _sends_page({"newsletter": request.args.get("newsletter", "")}, {})


@bp.post("/sends")
@requires("send")
def schedule_send():
    """Schedule a one-off send at the local time given (in the newsletter's time zone; empty:
    now), or show the form again with what is wrong."""
    values = {name: request.form.get(name, "").strip() for name in ("newsletter", "when")}
    newsletter = get_newsletter(values["newsletter"])
    if newsletter is None:
        return _sends_page(values, {"newsletter": _("Choose a newsletter.")}, 422)
    if newsletter.archived:
        return _sends_page(values, {"newsletter": _("This newsletter is archived and sends nothing.")}, 409)  # fmt: skip
    try:
        when = scheduling.parse_when(values["when"], newsletter.timezone)
        send = scheduling.create_send(
            newsletter, when, actor=audit.Actor("console", current_user.email)
        )
    except scheduling.InvalidTime as exc:
        return _sends_page(values, {"when": f"{exc}."}, 422)
    except scheduling.NoRecipients:
        return _sends_page(values, {"newsletter": nobody_yet()}, 422, no_readers=True)
    except scheduling.SendInProgress as exc:
        message = _("This newsletter has a send in progress already (#%(id)s).", id=exc.send.id)
        return _sends_page(values, {"newsletter": message}, 409)
    flash(_("Send #%(id)s of %(name)s scheduled for %(when)s.", id=send.id, name=newsletter.name,
            when=in_words(send.scheduled_at, newsletter.timezone)))  # fmt: skip
    return redirect(url_for("console.sends", newsletter=newsletter.slug))
