"""Signing in and out of the console, and what each role may do there.

A member signs in with address and password, then, if they enrolled a second factor, with
the code from their authenticator app; between the two steps the session holds only who is
halfway in, for a few minutes. Failed attempts are limited per account and per address the
requests come from (`CONSOLE_SIGN_IN_LIMIT`), across processes when the limits live in Redis.
The session names the member and the version of their credentials, so a password change or
a disabled account ends every session at once.
"""

from __future__ import annotations

import logging
import time
from functools import wraps
from typing import Any

from flask import abort, current_app, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from service.console import bp
from service.console.forms import ActionForm, CodeForm, SignInForm
from service.console.pages import render
from service.extensions import db, limiter, rate_limited
from service.models import StaffMember
from service.staff import accounts, totp
from service.staff.roles import allows

log = logging.getLogger(__name__)
login_manager = LoginManager()
login_manager.session_protection = "basic"
HALFWAY_SECONDS = 300
DEFAULT_SIGN_IN_LIMIT = "10/minute;50/hour"


class Member(UserMixin):
    """The signed-in staff member as Flask-Login sees them."""

    def __init__(self, row: StaffMember):
        self.row = row
        self.email = row.email
        self.role = row.role

    def get_id(self) -> str:
        """The member and their credentials' version: a change ends older sessions."""
        return f"{self.row.id}:{self.row.session_version}"

    def may(self, scope: str) -> bool:
        """Whether this member's role allows what `scope` guards."""
        return allows(self.role, scope)


@login_manager.user_loader
def load_member(session_id: str) -> Member | None:
    """The member a session names, if the account is active and its credentials unchanged."""
    member_id, _sep, version = session_id.partition(":")
    if not (member_id.isdigit() and version.isdigit()):
        return None
    row = db.session.get(StaffMember, int(member_id))
    if row is None or row.disabled_at is not None or row.session_version != int(version):
        return None
    return Member(row)


def requires(scope: str):
    """Refuse a view (403) to members whose role does not allow `scope`."""

    def decorate(view):
        @wraps(view)
        def checked(*args: Any, **kwargs: Any):
            if not current_user.may(scope):
                abort(403)
            return view(*args, **kwargs)

        return checked

    return decorate


def _limit() -> str:
    return current_app.config.get("CONSOLE_SIGN_IN_LIMIT") or DEFAULT_SIGN_IN_LIMIT


def _account_key() -> str:
    address = accounts.staff_address(request.form.get("email", "")[:254]) or "unknown"
    return f"console-account:{address}"


def _failed(response) -> bool:
    """Only attempts that did not sign in count toward the limits."""
    return response.status_code != 302


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith("/admin") and "//" not in target and "\\" not in target:
        return target
    return url_for("console.dashboard")


@bp.route("/sign-in", methods=["GET", "POST"])
@rate_limited(
    limiter.limit(_limit, key_func=lambda: "console-ip:" + (request.remote_addr or ""),
                  methods=["POST"], deduct_when=_failed),
    limiter.limit(_limit, key_func=_account_key, methods=["POST"], deduct_when=_failed),
)  # fmt: skip
def sign_in():
    """The sign-in page; a right password signs in (or asks for the second factor)."""
    form = SignInForm()
    if not form.validate_on_submit():
        return render("console/sign_in.html", status=400 if request.method == "POST" else 200,
                      form=form, no_accounts=accounts.count_members() == 0)  # fmt: skip
    row = accounts.authenticate(form.email.data, form.password.data)
    if row is None:
        form.password.errors.append(_("Wrong address or password."))
        return render("console/sign_in.html", status=401, form=form, no_accounts=False)
    target = _safe_next(request.args.get("next"))
    if row.totp_secret:
        session["halfway"] = {"id": row.id, "at": time.time(), "next": target}
        return redirect(url_for("console.second_factor"))
    login_user(Member(row))
    return redirect(target)


@bp.route("/sign-in/code", methods=["GET", "POST"])
@rate_limited(
    limiter.limit(_limit, key_func=lambda: "console-ip:" + (request.remote_addr or ""),
                  methods=["POST"], deduct_when=_failed),
)  # fmt: skip
def second_factor():
    """The second step: the authenticator's code for the member halfway in."""
    halfway = session.get("halfway")
    if not halfway or time.time() - halfway["at"] > HALFWAY_SECONDS:
        session.pop("halfway", None)
        return redirect(url_for("console.sign_in"))
    form = CodeForm()
    if not form.validate_on_submit():
        return render("console/second_factor.html", status=400 if request.method == "POST" else 200, form=form)  # fmt: skip
    row = db.session.get(StaffMember, halfway["id"])
    try:
        accepted = row is not None and row.disabled_at is None and totp.accept(row, form.code.data)
    except totp.SecondFactorUnreadable as exc:
        log.warning("second factor cannot be checked: %s (restore the key or reset it)", exc)
        form.code.errors.append(_("Your second factor cannot be checked: it was stored under a "
                                  "key this service no longer has. Sign in with a recovery "
                                  "code, or ask an owner to reset it."))  # fmt: skip
        return render("console/second_factor.html", status=409, form=form)
    if not accepted:
        form.code.errors.append(_("That code is not right; wait for the next one and try again."))
        return render("console/second_factor.html", status=401, form=form)
    session.pop("halfway", None)
    login_user(Member(row))
    return redirect(_safe_next(halfway["next"]))


@bp.post("/sign-out")
def sign_out():
    """End this session."""
    logout_user()
    session.clear()
    return redirect(url_for("console.sign_in"))


def limited_per_member(view):
    """Count a signed-in member's failed checks of their own credentials (turning two-step
    sign-in off) toward their account's sign-in limit: no guessing codes from an open session."""
    return rate_limited(
        limiter.limit(_limit, key_func=lambda: f"console-account:{current_user.email}",
                      methods=["POST"], deduct_when=_failed),
    )(view)  # fmt: skip


def action_form() -> ActionForm:
    """A form that carries only the CSRF token (for buttons)."""
    return ActionForm()
