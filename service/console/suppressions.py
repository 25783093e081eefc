"""The suppression list in the console: its entries a page at a time (never an address, which
is kept only as a hash), one address checked, an address blocked with a reason and an entry
lifted with a reason. The same service functions as `/api/v1/suppressions`, with the member
in the audit log; editors change it, viewers read it."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from service import audit
from service.addresses import InvalidEmail, parse_address
from service.console import bp
from service.console.auth import action_form, requires
from service.console.pages import render
from service.leaving import suppression_list as entries

PAGE = 50


def _actor() -> audit.Actor:
    return audit.Actor("console", current_user.email)


def _email_key(value: str) -> str:
    return parse_address(value.strip(), allow_smtputf8=True).key


def _page(values: dict[str, str], errors: dict[str, str], status: int = 200):
    after = request.args.get("after", "")
    after_id = int(after) if after.isdigit() and len(after) < 19 else 0
    checked = request.args.get("email", "").strip()[:320]
    email_key = None
    if checked:
        try:
            email_key = _email_key(checked)
        except InvalidEmail as exc:
            errors = {**errors, "check": _("Not an acceptable address (%(reason)s).", reason=exc.reason)}  # fmt: skip
            status = 400
    rows = [] if checked and email_key is None else entries.entries_after(after_id, PAGE + 1, email_key)  # fmt: skip
    shown = rows[:PAGE]
    return render(
        "console/suppressions.html",
        status=status,
        entries=[entries.describe(row) for row in shown],
        checked=checked,
        next_after=shown[-1].id if len(rows) > PAGE else None,
        values=values,
        errors=errors,
        member=current_user,
        form=action_form(),
    )


@bp.get("/suppressions")
def suppressions():
    """Entries oldest first, fifty a page; `email` shows only that address's entry."""
    return _page({"reason": "manual"}, {})


@bp.post("/suppressions")
@requires("write")
def add_suppression():
    """Block an address with a reason (and a note): nothing is mailed to it any more."""
    values = {name: request.form.get(name, "") for name in ("email", "reason", "detail")}
    try:
        email_key = _email_key(values["email"])
    except InvalidEmail as exc:
        return _page(values, {"email": _("Not an acceptable address (%(reason)s).", reason=exc.reason)}, 422)  # fmt: skip
    try:
        row, changed = entries.add_by_hand(email_key, values["reason"].strip(), values["detail"], _actor())  # fmt: skip
    except entries.SuppressionInvalid as exc:
        return _page(values, {exc.field: str(exc)}, 422)
    if changed:
        flash(_("Address blocked (entry %(id)s).", id=row.id))
    else:
        flash(_("This address is already suppressed (entry %(id)s, %(reason)s).", id=row.id, reason=row.reason), "error")  # fmt: skip
    return redirect(url_for("console.suppressions"))


@bp.post("/suppressions/<int:entry_id>/remove")
@requires("write")
def remove_suppression(entry_id: int):
    """Lift a block, saying why (kept in the audit log): the address can be mailed again."""
    try:
        entries.remove_by_hand(entry_id, request.form.get("why", ""), _actor())
    except entries.NoSuchSuppression as exc:
        flash(str(exc), "error")
    except entries.SuppressionInvalid as exc:
        flash(_("Not removed: %(reason)s", reason=str(exc)), "error")
    else:
        flash(_("Entry %(id)s removed; the address can be mailed again.", id=entry_id))
    return redirect(url_for("console.suppressions"))
