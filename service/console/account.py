"""A member's own account page: turning on two-step sign-in (TOTP) with a QR code drawn on the
server, and the recovery codes shown once. When `CONSOLE_REQUIRE_TOTP` is on, a member without
a second factor is brought here before anything else."""

from __future__ import annotations

from flask import current_app, redirect, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from service.console import bp
from service.console.auth import Member
from service.console.forms import CodeForm
from service.console.pages import render
from service.staff import totp


def totp_required() -> bool:
    """Whether the owner's setting makes a second factor compulsory."""
    return bool(current_app.config.get("CONSOLE_REQUIRE_TOTP"))


@bp.get("/account")
def account():
    """Whether two-step sign-in is on, and the way to turn it on."""
    return render("console/account.html", member=current_user, required=totp_required())


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
