"""A member's own account page: turning on two-step sign-in (TOTP) with a QR code drawn on the
server, and the recovery codes shown once; turning it off again with the password and a code
(never while the owners require it). When `CONSOLE_REQUIRE_TOTP` is on, a member without a
second factor is brought here before anything else."""

from __future__ import annotations

import logging

from flask import current_app, flash, redirect, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from service.console import bp
from service.console.auth import Member, limited_per_member
from service.console.forms import CodeForm, TurnOffForm
from service.console.pages import render
from service.staff import totp

log = logging.getLogger(__name__)


def totp_required() -> bool:
    """Whether the owner's setting makes a second factor compulsory."""
    return bool(current_app.config.get("CONSOLE_REQUIRE_TOTP"))


@bp.get("/account")
def account():
    """Whether two-step sign-in is on, and the way to turn it on or off."""
    return _account_page(TurnOffForm(formdata=None))


def _account_page(form: TurnOffForm, status: int = 200):
    return render("console/account.html", status=status, member=current_user,
                  required=totp_required(), form=form)  # fmt: skip


@bp.post("/account/totp")
def start_totp():
    """A new secret, held in the session until the first code proves the app has it."""
    secret = totp.new_secret()
    session["enrolling"] = secret
    return _enrolment_page(secret, CodeForm(formdata=None))


def _enrolment_page(secret: str, form: CodeForm, status: int = 200):
    uri = totp.provisioning_uri(secret, current_user.email, current_app.config["PUBLISHER_NAME"])
    return render("console/enrol_totp.html", status=status, secret=secret,
                  qr=totp.qr_svg_data_uri(uri), form=form)  # fmt: skip


@bp.post("/account/totp/confirm")
def confirm_totp():
    """Turn two-step sign-in on once the app's code matches; show the recovery codes once."""
    secret = session.get("enrolling")
    if not secret:
        return redirect(url_for("console.account"))
    form = CodeForm()
    if not (form.validate_on_submit() and totp.code_is_right(secret, form.code.data)):
        form.code.errors.append(_("That code is not right; wait for the next one and try again."))
        return _enrolment_page(secret, form, status=400)
    session.pop("enrolling", None)
    codes = totp.enrol(current_user.row, secret)
    login_user(Member(current_user.row))  # the new credentials' session; older ones end
    return render("console/recovery_codes.html", codes=codes)


@bp.post("/account/totp/off")
@limited_per_member
def turn_off_totp():
    """Turn two-step sign-in off after the password and a current or recovery code; refused
    (403) while the owners require it. This session goes on, the member's others end."""
    if totp_required():
        return _account_page(TurnOffForm(formdata=None), status=403)
    if not current_user.row.totp_secret:
        return redirect(url_for("console.account"))
    form = TurnOffForm()
    if not form.validate_on_submit():
        return _account_page(form, status=400)
    try:
        wrong = totp.turn_off(current_user.row, form.password.data, form.code.data)
    except totp.SecondFactorUnreadable as exc:
        log.warning("second factor cannot be checked: %s (restore the key or reset it)", exc)
        form.code.errors.append(_("Your second factor cannot be checked: it was stored under a "
                                  "key this service no longer has. Type one of your recovery "
                                  "codes instead, or ask an owner to reset it."))  # fmt: skip
        return _account_page(form, status=409)
    if wrong == "password":
        form.password.errors.append(_("That is not your password."))
        return _account_page(form, status=401)
    if wrong == "code":
        form.code.errors.append(_("That code is not right; wait for the next one and try again."))
        return _account_page(form, status=401)
    login_user(Member(current_user.row))  # the new credentials' session; older ones end
    flash(_("Two-step sign-in is off: signing in asks only for your password."))
    return redirect(url_for("console.account"))
