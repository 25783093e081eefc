"""What every console request passes first: a signed-in member, and a CSRF token on a POST.

The check runs before any console view, so a view cannot forget it: a POST without a valid
token is a 400 whatever the form, and a page asked for without a session sends the browser to
the sign-in page (and back afterwards).
"""

from __future__ import annotations

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from service.console import bp

OPEN_ENDPOINTS = {"console.sign_in", "console.second_factor", "console.join"}
# Where a member without a second factor may go when the owner requires one.
ENROLMENT_ENDPOINTS = {"console.account", "console.start_totp", "console.confirm_totp",
                       "console.sign_out"}  # fmt: skip


@bp.before_request
def require_member_and_token():
    """Refuse a POST without this session's CSRF token; send strangers to sign in."""
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(str(exc)) from None
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        if request.method != "GET":
            abort(401)
        return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
    if (
        current_app.config.get("CONSOLE_REQUIRE_TOTP")
        and not current_user.row.totp_secret
        and request.endpoint not in ENROLMENT_ENDPOINTS
    ):
        return redirect(url_for("console.account"))
    return None


@bp.after_request
def never_cache(response):
    """Console pages show readers' data: no shared or browser cache keeps them."""
    response.headers["Cache-Control"] = "no-store"
    return response
