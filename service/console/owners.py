"""What only owners see in the console: API keys (create with scopes, list, revoke) and the
audit log of every operator's actions. The same service functions as `/api/v1/api-keys` and
`/api/v1/audit`; each action here is itself in the audit log, under the owner's address."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from service import audit
from service.access import keys
from service.console import bp
from service.console.auth import action_form, requires
from service.console.pages import render

AUDIT_PAGE = 50


def _actor() -> audit.Actor:
    return audit.Actor("console", current_user.email)


def _keys_page(new_key: str | None = None, problem: str | None = None, status: int = 200,
               typed: dict | None = None):  # fmt: skip
    rows = [keys.describe(k) for k in keys.list_api_keys()]
    return render("console/api_keys.html", status=status, keys=rows, scopes=keys.SCOPES,
                  new_key=new_key, problem=problem, typed=typed or {"name": "", "scopes": ["read"]},
                  form=action_form())  # fmt: skip


@bp.get("/api-keys")
@requires("admin")
def api_keys():
    """The active keys (never the key itself) and a form to make one."""
    return _keys_page()


@bp.post("/api-keys")
@requires("admin")
def create_api_key():
    """Make a key with the scopes ticked; it is shown on this answer only."""
    name = request.form.get("name", "")
    scopes = request.form.getlist("scope")
    typed = {"name": name[:100], "scopes": scopes}
    if not scopes:  # no box ticked is no choice made: never the widest scope by default
        return _keys_page(problem=_("Tick at least one scope."), status=422, typed=typed)
    try:
        made = keys.create_api_key(name, scopes, actor=_actor())
    except (keys.KeyInvalid, keys.KeyNameTaken) as exc:
        return _keys_page(problem=str(exc), status=422, typed=typed)
    return _keys_page(new_key=made)


@bp.post("/api-keys/<path:name>/revoke")
@requires("admin")
def revoke_api_key(name: str):
    """Revoke a key at once: its next request answers 401."""
    try:
        keys.revoke_api_key(name, actor=_actor())
    except keys.NoSuchKey as exc:
        flash(str(exc), "error")
    else:
        flash(_("Key %(name)s revoked.", name=name))
    return redirect(url_for("console.api_keys"))


@bp.get("/audit")
@requires("admin")
def audit_log():
    """Operator actions, newest first, fifty at a time."""
    before = request.args.get("before", "")
    before_id = int(before) if before.isdigit() and len(before) < 19 else None
    rows = audit.events_before(before_id, AUDIT_PAGE + 1)
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    return render("console/audit.html", events=[audit.describe(r) for r in rows],
                  next_before=rows[-1].id if more else None)  # fmt: skip
