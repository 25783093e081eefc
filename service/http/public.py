"""Public endpoints: the signup API (JSON or plain form), confirmation links, hosted pages."""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select

from service.addresses import InvalidEmail, parse_signup_address
from service.extensions import db, limiter, rate_limited
from service.http.errors import api_error, message, page, request_locale, wants_html
from service.http.origins import cors_allowed, link_back, signup_allowed, site_home
from service.i18n import confirmation_sent
from service.models import ConsentRecord, Newsletter
from service.signup import captcha
from service.signup.accept import SignupRequest, UnknownNewsletter, subscribe
from service.signup.confirm import TokenStale, confirm, load_confirmation, resend_confirmation
from service.signup.timing import form_stamp, too_fast
from service.tokens import TokenExpired, TokenInvalid

bp = Blueprint("public", __name__)
log = logging.getLogger(__name__)

NAME_MAX = 200
CAPTCHA_RETRY_AFTER = 30


class BadRequest(ValueError):
    """The body could not be read as a signup."""


def _signup_fields() -> dict[str, Any]:
    """The submitted fields from a JSON or form body, as plain values."""
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BadRequest("body is not a JSON object")
        return data
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise BadRequest(f"unsupported content type {request.mimetype!r}")
    form = request.form
    fields: dict[str, Any] = {key: form.get(key) for key in form}
    fields["newsletters"] = form.getlist("newsletters")
    return fields


def _newsletter_slugs(value: Any) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise BadRequest("newsletters must be a slug or a list of slugs")
    return [slug.strip() for item in items for slug in item.split(",") if slug.strip()]


def _clean_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest("name must be a string")
    return (
        " ".join("".join(c if c.isprintable() else " " for c in value).split())[:NAME_MAX] or None
    )


TRUE_WORDS = frozenset({"true", "1", "on", "yes"})
FALSE_WORDS = frozenset({"", "false", "0", "off", "no"})


def _confirmed(value: Any) -> bool:
    """`confirm_address`: a JSON boolean, or a form's true/1/on (false/0/off, or absent: no)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise BadRequest("confirm_address must be true or false")


def _address_limit_key() -> str:
    """Rate-limit key for the submitted address (falls back to the client IP)."""
    try:
        email = _signup_fields().get("email")
    except BadRequest:
        email = None
    if isinstance(email, str) and email.strip():
        return "addr:" + email.strip().lower()
    return "ip:" + (request.remote_addr or "")


def _ip_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT_IP"]


def _address_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT_ADDRESS"]


@lru_cache(maxsize=64)
def _accepted_json(locale: str, count: int) -> bytes:
    """The body of every 202 in `locale` for `count` newsletters: the same for every address,
    so built once."""
    with force_locale(locale):
        body = {
            "status": "pending",
            "code": "confirmation_sent",
            "message": confirmation_sent(count),
        }
    return json.dumps(body, separators=(",", ":")).encode()


def _accepted(locale: str, slugs: list[str], source_url: object) -> Response | tuple[str, int]:
    count = max(1, len(set(slugs)))
    if wants_html():
        with force_locale(locale):
            message = confirmation_sent(count)
        back = _page_of(source_url) or site_home()
        return page("pages/message.html", 202, title=message, message="", locale=locale, back=back)
    return Response(_accepted_json(locale, count), 202, mimetype="application/json")


def _rejected(status: int, code: str, field: str | None, locale: str, **extra: Any):
    text = message(code, locale)
    if code == "newsletters_required":
        code = "required"
    if wants_html():
        return page(
            "pages/message.html",
            status,
            title=text,
            message="",
            locale=locale,
            back=_page_of(request.referrer) or site_home(),
        )
    return api_error(status, code, text, field, **extra)


def _page_of(url: object) -> str | None:
    """The page a reader came from, for "back to the site": an allowed http(s) page, and not
    this signup endpoint (a re-post from one of our answer pages has it as its Referer)."""
    link = link_back(url)
    if link is None or urlsplit(link)._replace(query="", fragment="").geturl() == request.base_url:
        return None
    return link


def _address_rejected(exc: InvalidEmail, fields: dict[str, Any], locale: str, slugs: list[str]):
    """422 `invalid_email`: JSON with the fix, or a page to correct or confirm the address."""
    extra = {"suggestion": exc.suggestion} if exc.suggestion else {}
    if not wants_html():
        return _rejected(422, "invalid_email", "email", locale, **extra)
    typed = fields.get("email")
    return page(
        "pages/signup_retry.html",
        422,
        locale=locale,
        title=message("invalid_email", locale),
        typed=typed.strip(" \t") if isinstance(typed, str) else "",
        suggestion=exc.suggestion,
        confirmable=exc.reason == "likely_typo",
        carried={
            "newsletters": slugs,
            "name": fields.get("name") if isinstance(fields.get("name"), str) else "",
            "form": fields.get("form") if isinstance(fields.get("form"), str) else "",
            "source_url": _page_of(fields.get("source_url") or request.referrer) or "",
        },
        back=_page_of(fields.get("source_url") or request.referrer) or site_home(),
        **hosted_form_context(),
    )


@bp.route("/api/v1/subscriptions", methods=["OPTIONS"])
def subscriptions_preflight():
    """CORS preflight for the cross-origin signup form."""
    return Response(status=204)


@bp.post("/api/v1/subscriptions")
@rate_limited(
    limiter.limit(_ip_limit, key_func=lambda: "ip:" + (request.remote_addr or "")),
    limiter.limit(_address_limit, key_func=_address_limit_key),
)
def create_subscription():
    """Sign an address up for one or more newsletters (double opt-in)."""
    try:
        fields = _signup_fields()
        locale = request_locale(fields.get("locale"))
        slugs = _newsletter_slugs(fields.get("newsletters"))
        name = _clean_name(fields.get("name"))
        source_url = fields.get("source_url") or request.referrer
        if source_url is not None and not isinstance(source_url, str):
            raise BadRequest("source_url must be a string")
        confirmed = _confirmed(fields.get("confirm_address"))
    except BadRequest as exc:
        return _rejected(400, "bad_request", None, request_locale(), detail=str(exc))

    if not signup_allowed(request.headers.get("Origin"), slugs):
        return _rejected(403, "origin_not_allowed", None, locale)
    bot = "honeypot" if fields.get("website") else too_fast(fields)
    if bot:  # a field people never see was filled, or it came faster than anyone types
        log.info("signup dropped as automated: %s", bot, extra={"event": "signup_bot"})
        return _accepted(locale, slugs, source_url)
    email = fields.get("email")
    if email is None or (isinstance(email, str) and not email.strip()):
        return _rejected(422, "required", "email", locale)
    try:
        address = parse_signup_address(
            email, allow_smtputf8=current_app.config["SMTPUTF8"], confirmed=confirmed
        )
    except InvalidEmail as exc:
        return _address_rejected(exc, fields, locale, slugs)
    if not slugs:
        return _rejected(422, "newsletters_required", "newsletters", locale)
    try:  # last, just before storing: a provider's token can be spent only once
        captcha.verify(fields, request.remote_addr)
    except captcha.CaptchaFailed as exc:
        log.info("captcha failed: %s", exc, extra={"event": "captcha_failed"})
        return _rejected(422, "captcha_failed", "captcha", locale)
    except captcha.CaptchaUnavailable as exc:
        log.warning("captcha provider unreachable: %s", exc, extra={"event": "captcha_down"})
        response = _rejected(503, "captcha_unavailable", "captcha", locale)
        return _with_retry_after(response, CAPTCHA_RETRY_AFTER)
    try:
        subscribe(
            SignupRequest(
                address=address,
                newsletters=slugs,
                name=name,
                locale=locale,
                source_url=source_url,
                ip=request.remote_addr,
                user_agent=request.user_agent.string,
                form=fields.get("form") if isinstance(fields.get("form"), str) else None,
            )
        )
    except UnknownNewsletter:
        db.session.rollback()
        return _rejected(422, "unknown_newsletter", "newsletters", locale)
    return _accepted(locale, slugs, source_url)


def _with_retry_after(answer: Response | tuple[str, int], seconds: int) -> Response:
    response = current_app.make_response(answer)
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.after_app_request
def cors_for_signup(response: Response) -> Response:
    """Let allowed origins post the signup form; never with credentials, never cookies.

    Allowed here means the global list or any newsletter's list (a preflight has no body);
    the signup itself then checks the newsletters it asks for (403 `origin_not_allowed`).
    """
    if request.path != "/api/v1/subscriptions":
        return response
    origin = request.headers.get("Origin")
    allowed = current_app.config["ALLOWED_ORIGINS"]
    if origin and cors_allowed(origin):
        response.headers["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept, Accept-Language"
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
        response.headers["Access-Control-Max-Age"] = "86400"
    response.headers.pop("Access-Control-Allow-Credentials", None)
    response.headers.pop("Set-Cookie", None)
    response.vary.add("Origin")
    return response


def _public_newsletters() -> list[Newsletter]:
    return list(
        db.session.scalars(select(Newsletter).where(Newsletter.is_public).order_by(Newsletter.id))
    )


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
            newsletters=_public_newsletters(),
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
        newsletters=_public_newsletters(),
    )


@bp.route("/confirm/<token>", methods=["GET", "HEAD"])
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
        back=_page_of(_signup_page(result.subscriber.id)) or site_home(),
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
@rate_limited(limiter.limit(_ip_limit))
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


@bp.get("/subscribe")
def signup_page():
    """A hosted signup page listing every public newsletter (works without JavaScript)."""
    return page("pages/signup.html", newsletters=_public_newsletters(), **hosted_form_context())


def hosted_form_context() -> dict[str, Any]:
    """What every hosted signup form carries: a signed render time and the captcha widget."""
    return {"form_stamp": form_stamp(), "captcha": captcha.widget_config()}
