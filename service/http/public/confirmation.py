"""The confirmation pages: the link from the confirmation email shows a button (following it
changes nothing), the button confirms, and an expired link can ask for a new one."""

from __future__ import annotations

from flask import current_app, request
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select

from service.extensions import db, limiter, rate_limited
from service.http.contract import hosted
from service.http.errors import page, request_locale
from service.http.origins import site_home
from service.http.public import bp
from service.http.public.hosted import public_newsletters
from service.http.public.signup import ip_limit, page_of
from service.models import ConsentRecord
from service.signup.confirm import TokenStale, confirm, load_confirmation, resend_confirmation
from service.tokens import TokenExpired, TokenInvalid


def _token_error(exc: TokenInvalid, token: str):
    with force_locale(request_locale(request.values.get("locale"))):
        return _token_error_page(exc, token)


def _token_error_page(exc: TokenInvalid, token: str):
    if isinstance(exc, TokenExpired):
        days = max(1, current_app.config["CONFIRM_TOKEN_MAX_AGE"] // 86400)
        return page(
            "pages/token_error.html",
            410,
            title=_("This link has expired"),
            message=ngettext(
                "Confirmation links are valid for %(num)s day. Ask for a new one below.",
                "Confirmation links are valid for %(num)s days. Ask for a new one below.",
                days,
            ),
            resend_url=f"/confirm/{token}/resend",
            newsletters=public_newsletters(),
        )
    if isinstance(exc, TokenStale):
        title = _("This link has already been used")
        text = _(
            "Your subscription has changed since this link was sent. "
            "Enter your address to get a new one."
        )
    else:
        title = _("This link is not valid")
        text = _(
            "The link may have been cut or changed. Enter your address and we will send a new one."
        )
    return page(
        "pages/token_error.html",
        400,
        title=title,
        message=text,
        resend_url=None,
        newsletters=public_newsletters(),
    )


@bp.route("/confirm/<token>", methods=["GET", "HEAD"])
@hosted()
def confirm_page(token: str):
    """Show the confirmation button; following the link changes nothing (mail scanners do)."""
    try:
        subscriber, _ = load_confirmation(token)
    except TokenInvalid as exc:
        return _token_error(exc, token)
    locale = request_locale(subscriber.locale)
    names = ", ".join(
        s.newsletter.name_in(locale)
        for s in subscriber.subscriptions
        if s.status in ("pending", "confirmed")
    )
    return page(
        "pages/confirm.html",
        locale=locale,
        email=subscriber.email,
        newsletters=names,
        token=token,
    )


@bp.post("/confirm/<token>")
@hosted()
def confirm_submit(token: str):
    """Confirm the subscription; repeating it is harmless."""
    try:
        result = confirm(token, ip=request.remote_addr, user_agent=request.user_agent.string)
    except TokenInvalid as exc:
        db.session.rollback()
        return _token_error(exc, token)
    locale = request_locale(result.subscriber.locale)
    names = ", ".join(n.name_in(locale) for n in result.newsletters)
    with force_locale(locale):
        title = _("Successfully subscribed")
        text = _(
            "You will receive %(newsletters)s. Every email has a link to unsubscribe.",
            newsletters=names,
        )
    return page(
        "pages/message.html",
        locale=locale,
        title=title,
        message=text,
        back=page_of(_signup_page(result.subscriber.id)) or site_home(),
    )


def _signup_page(subscriber_id: int) -> str | None:
    """The page the reader last signed up on (their consent record's `source_url`)."""
    return db.session.scalar(
        select(ConsentRecord.source_url)
        .where(
            ConsentRecord.subscriber_id == subscriber_id,
            ConsentRecord.action == "signup",
            ConsentRecord.source_url.is_not(None),
        )
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )


@bp.post("/confirm/<token>/resend")
@hosted(rate_limited=True)
@rate_limited(limiter.limit(ip_limit))
def confirm_resend(token: str):
    """Send a fresh confirmation link for an expired one (same per-address limit as signup)."""
    try:
        load_confirmation(token)
        subscriber_id = None
    except TokenExpired as exc:
        subscriber_id = exc.payload.get("s") if exc.payload else None
    except TokenInvalid as exc:
        return _token_error(exc, token)
    if isinstance(subscriber_id, int):
        resend_confirmation(subscriber_id)
    locale = request_locale(request.values.get("locale"))
    with force_locale(locale):
        title = _("If this address can subscribe, a new confirmation email is on its way.")
    return page("pages/message.html", 202, locale=locale, title=title, message="")
