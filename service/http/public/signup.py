"""The signup API: `POST /api/v1/subscriptions` from a JSON or plain form body, its bot traps,
rate limits and CORS, and its answers (JSON, or a page for a form posted without JavaScript)."""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

from flask import Response, current_app, g, request
from flask_babel import force_locale
from flask_babel import gettext as _
from pydantic import ValidationError

from service.addresses import InvalidEmail, parse_signup_address, reader_key
from service.extensions import db, limiter, rate_limited
from service.http.contract import PUBLIC, endpoint
from service.http.errors import api_error, message, page, request_locale, wants_html
from service.http.origins import cors_allowed, link_back, own_page, signup_allowed, site_home
from service.http.public import bp
from service.http.public.signup_fields import (
    BadRequest,
    clean_name,
    confirmed_flag,
    filled,
    newsletter_slugs,
    signup_fields,
)
from service.http.schemas.public import SignupAccepted
from service.http.schemas.public import SignupRequest as SignupBody
from service.i18n import confirmation_sent
from service.signup import captcha, replay
from service.signup.accept import (
    SignupRequest,
    SpoolUnavailable,
    UnknownNewsletter,
    count_answer,
    subscribe,
)
from service.signup.timing import EARLY, carried_stamp, too_fast

log = logging.getLogger(__name__)

DOMAIN_SHOWN = 100
CAPTCHA_RETRY_AFTER = 30


class _Trapped(Exception):
    """The honeypot is filled: answered like any signup, nothing read further."""


def _trap_answer(fields: dict[str, Any]) -> Response | tuple[str, int]:
    """The 202 a trapped request gets: the one a signup with these fields would get."""
    try:
        slugs = newsletter_slugs(fields.get("newsletters"))
    except BadRequest:
        slugs = []
    g.signup_slugs = slugs  # for `count_signup`
    locale = fields.get("locale")
    source = fields.get("source_url")
    return _accepted(
        request_locale(locale if isinstance(locale, str) else None),
        slugs,
        source if isinstance(source, str) else request.referrer,
    )


def _first_problem(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    return ".".join(str(part) for part in first["loc"]) + ": " + first["msg"]


def _address_limit_key() -> str:
    """Rate-limit key for the submitted address (falls back to the client IP)."""
    try:
        email = signup_fields().get("email")
    except BadRequest:
        email = None
    if isinstance(email, str) and email.strip():  # the reader, not the spelling typed
        smtputf8 = current_app.config["SMTPUTF8"]  # as the view parses it: one parse for both
        return "addr:" + (reader_key(email, allow_smtputf8=smtputf8) or email.strip().lower())
    return "ip:" + (request.remote_addr or "")


def ip_limit() -> str:
    """The per-IP limit on signups (and on asking for a new confirmation link)."""
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
        back = page_of(source_url) or site_home()
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
            back=page_of(request.referrer) or site_home(),
        )
    return api_error(status, code, text, field, **extra)


def page_of(url: object) -> str | None:
    """The page a reader came from, for "back to the site": an allowed http(s) page, and not
    this signup endpoint (a re-post from one of our answer pages has it as its Referer)."""
    link = link_back(url)
    if link is None or own_page(link, request.path):
        return None
    return link


def _address_rejected(exc: InvalidEmail, fields: dict[str, Any], locale: str, slugs: list[str]):
    """422 `invalid_email`: JSON with the fix, or a page to correct or confirm the address."""
    extra = {"suggestion": exc.suggestion} if exc.suggestion else {}
    text = message("invalid_email", locale)
    if exc.reason == "reserved_domain":  # example.com, .test, localhost: say why, not "correct"
        extra["reason"] = exc.reason
        text = reserved_domain_message(fields.get("email"), locale)
    if not wants_html():
        return api_error(422, "invalid_email", text, "email", **extra)
    return page(
        "pages/signup_retry.html",
        422,
        locale=locale,
        title=text,
        suggestion=exc.suggestion,
        confirmable=exc.reason == "likely_typo",
        **_follow_up(fields, slugs),
    )


def reserved_domain_message(email: object, locale: str) -> str:
    """Why an address at a reserved domain (example.com, .test, localhost) is refused."""
    domain = email.strip().rpartition("@")[2][:DOMAIN_SHOWN] if isinstance(email, str) else ""
    with force_locale(locale):
        return _(
            "%(domain)s is reserved for examples and tests: no mail can reach it. "
            "Please enter your own address.",
            domain=domain or "?",
        )


def _press_again(fields: dict[str, Any], locale: str, slugs: list[str]):
    """A hosted form sent sooner than people type (autofill, a quick click): nothing stored,
    and a page to press once more, timed from the form the reader first saw."""
    with force_locale(locale):
        title = _("Please press Subscribe once more")
    return page(
        "pages/signup_again.html",
        200,
        locale=locale,
        title=title,
        confirm_address=confirmed_flag(fields.get("confirm_address")),
        **_follow_up(fields, slugs),
    )


def _follow_up(fields: dict[str, Any], slugs: list[str]) -> dict[str, Any]:
    """What a page answering a plain form needs to send it again: the fields as the reader
    sent them, the first form's stamp (`carried_stamp`), the captcha and the way back."""
    typed = fields.get("email")
    back = page_of(fields.get("source_url") or request.referrer)
    return {
        "typed": typed.strip(" \t") if isinstance(typed, str) else "",
        "carried": {
            "newsletters": slugs,
            "name": fields.get("name") if isinstance(fields.get("name"), str) else "",
            "form": fields.get("form") if isinstance(fields.get("form"), str) else "",
            "source_url": back or "",
        },
        "back": back or site_home(),
        "form_stamp": carried_stamp(fields),
        "captcha": captcha.widget_config(),
    }


@bp.route("/api/v1/subscriptions", methods=["OPTIONS"])
def subscriptions_preflight():
    """CORS preflight for the cross-origin signup form."""
    return Response(status=204)


@bp.post("/api/v1/subscriptions")
@endpoint(
    PUBLIC,
    body=SignupBody,
    forms=True,
    validate=False,  # the view checks it against the model after the bot traps
    rate_limited=True,
    answers={202: SignupAccepted},
    media=("application/json", "text/html"),
    errors={
        400: "`bad_request`: the body is not a signup (JSON object or form)",
        403: "`origin_not_allowed`: this page's origin may not sign up to these newsletters",
        422: "`required`, `invalid_email` (with `suggestion` for a likely typo), "
        "`unknown_newsletter`, `unknown_locale` or `captcha_failed`",
        503: "`captcha_unavailable`: the captcha provider is unreachable, or "
        "`signup_unavailable`: the database is away and the signup could not be spooled "
        "either (with the database away alone it is spooled and answered 202); retry after "
        "`Retry-After` seconds",
    },
)
@rate_limited(
    limiter.limit(ip_limit, key_func=lambda: "ip:" + (request.remote_addr or "")),
    limiter.limit(_address_limit, key_func=_address_limit_key),
)
def create_subscription():
    """Sign an address up for one or more newsletters (double opt-in)."""
    try:
        fields = signup_fields()
    except BadRequest as exc:
        return _rejected(400, "bad_request", None, request_locale(), detail=str(exc))
    try:  # the traps first: a bot learns nothing from what it sent
        if filled(fields.get("website")):
            raise _Trapped
        # the honeypot is empty (None, "" or an empty list or object): nothing more to check
        SignupBody.model_validate({k: v for k, v in fields.items() if k != "website"})
        locale = request_locale(fields.get("locale"))
        slugs = newsletter_slugs(fields.get("newsletters"))
        name = clean_name(fields.get("name"))
        source_url = fields.get("source_url") or request.referrer
        if source_url is not None and not isinstance(source_url, str):
            raise BadRequest("source_url must be a string")
        confirmed = confirmed_flag(fields.get("confirm_address"))
        g.signup_slugs = slugs  # for `count_signup`
    except _Trapped:
        g.signup_bot = True
        log.info("signup dropped as automated: honeypot", extra={"event": "signup_bot"})
        return _trap_answer(fields)
    except (BadRequest, ValidationError) as exc:
        detail = str(exc) if isinstance(exc, BadRequest) else _first_problem(exc)
        return _rejected(400, "bad_request", None, request_locale(), detail=detail)

    if not signup_allowed(request.headers.get("Origin"), slugs):
        return _rejected(403, "origin_not_allowed", None, locale)
    bot = "honeypot" if filled(fields.get("website")) else too_fast(fields)
    if bot == EARLY and wants_html():  # our own form, only quick: a person may be behind it
        log.info("signup held for a second press", extra={"event": "signup_held"})
        return _press_again(fields, locale, slugs)
    if bot:  # a field people never see was filled, or it came faster than anyone types
        g.signup_bot = True
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
    except SpoolUnavailable as exc:  # the database is away and nothing can hold the signup
        db.session.rollback()
        log.error("signup refused: database and spool away (%s)", exc,
                  extra={"event": "signup_unavailable"})  # fmt: skip
        response = _rejected(503, "signup_unavailable", None, locale)
        return _with_retry_after(response, max(1, int(current_app.config["SIGNUP_RETRY_AFTER"])))
    return _accepted(locale, slugs, source_url)


@bp.before_app_request
def _replay_left_signups() -> None:
    """A web process's first request starts replaying what an earlier process spooled."""
    replay.start_once(current_app._get_current_object())  # type: ignore[attr-defined]


def _with_retry_after(answer: Response | tuple[str, int], seconds: int) -> Response:
    response = current_app.make_response(answer)
    response.headers["Retry-After"] = str(seconds)
    return response


# A signup's answer -> its outcome in the metrics (a bot's 202 is counted as `bot`).
OUTCOMES = {202: "accepted", 429: "rate_limited", **dict.fromkeys((400, 403, 413, 422), "invalid")}


@bp.after_app_request
def count_signup(response: Response) -> Response:
    """Count each signup by outcome and the newsletters it named, whatever answered it (the
    view, the rate limiter, the body guards)."""
    if request.method == "POST" and request.path == "/api/v1/subscriptions":
        outcome = "bot" if g.get("signup_bot") else OUTCOMES.get(response.status_code)
        if outcome:
            count_answer(outcome, g.get("signup_slugs", ()))
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
