"""Hosted pages to leave and choose: one-click unsubscribe (RFC 8058), preferences, manage link.

No page here sets a cookie: mail clients post one-click unsubscribes without any, and the
forms are protected by the signed token in the URL plus a value derived from it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_babel import force_locale
from flask_babel import gettext as _

from service.addresses import InvalidEmail, parse_address, reader_key
from service.extensions import db, limiter, rate_limited
from service.http.contract import hosted
from service.http.errors import message, page, request_locale
from service.http.form_secrets import check_form_secret, form_secret
from service.http.schemas.pages import ManageForm, PreferencesForm, UndoForm, UnsubscribeForm
from service.leaving.changes import (
    preference_newsletters,
    resubscribe,
    save_preferences,
    unsubscribe,
    unsubscribe_all,
)
from service.leaving.links import (
    ONE_CLICK_BODY,
    ReaderGone,
    UnsubscribeTarget,
    load_preferences,
    load_unsubscribe,
    preferences_token,
)
from service.leaving.manage_link import request_manage_link
from service.lists.cadence import cadence
from service.models import Subscriber
from service.tokens import TokenInvalid

bp = Blueprint("unsubscribe", __name__)


@bp.after_request
def no_cookies(response: Response) -> Response:
    """Never set a cookie on these pages (RFC 8058 one-click posts carry none and want none)."""
    response.headers.remove("Set-Cookie")
    response.headers["Cache-Control"] = "no-store"  # also /manage, which carries no token
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _bad_token(exc: TokenInvalid | None = None) -> tuple[str, int]:
    db.session.rollback()
    locale = request_locale()
    with force_locale(locale):
        if isinstance(exc, ReaderGone):
            # Erased readers are not mailed any more: a late one-click still gets its 200.
            title = _("You have unsubscribed from everything")
            return page("pages/message.html", locale=locale, title=title)
        title = _("This link is not valid")
        text = _(
            "The link may have been cut or changed. "
            "Ask for a new link to manage your subscriptions."
        )
    return page("pages/message.html", 400, locale=locale, title=title, message=text, back="/manage")


def _locale(subscriber: Subscriber) -> str:
    return request_locale(request.values.get("locale") or subscriber.locale)


def _token_page(load: Callable[[str], Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A page of a signed link: load what the token names first (`load`), then run the view
    with it; a token that does not load gets the invalid-link page instead."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def run(token: str) -> Any:
            try:
                loaded = load(token)
            except TokenInvalid as exc:
                return _bad_token(exc)
            return view(loaded, token)

        return run

    return decorate


def _unsubscribe_page(target: UnsubscribeTarget, token: str, *, done: str | None = None):
    subscriber = target.subscriber
    return page(
        "pages/unsubscribe.html",
        locale=_locale(subscriber),
        token=token,
        done=done,
        email=subscriber.email,
        newsletter=target.newsletter,
        subscribed=target.subscription is not None and target.subscription.status != "unsubscribed",
        undo_secret=form_secret(token, "undo"),
        preferences_token=preferences_token(subscriber.id),
    )


@bp.route("/unsubscribe/<token>", methods=["GET", "HEAD"])
@hosted()
@_token_page(load_unsubscribe)
def unsubscribe_page(target: UnsubscribeTarget, token: str):
    """The unsubscribe page: one button, everything, preferences. Changes nothing."""
    return _unsubscribe_page(target, token)


@bp.post("/unsubscribe/<token>")
@hosted(form=UnsubscribeForm)
@_token_page(load_unsubscribe)
def unsubscribe_submit(target: UnsubscribeTarget, token: str):
    """Unsubscribe at once: RFC 8058 one-click from a mail client, or the page's buttons."""
    form = request.form
    subscriber_id, newsletter_id = target.subscriber.id, target.newsletter.id
    if form.get("scope") == "all":
        unsubscribe_all(subscriber_id)
        done = "all"
    else:
        one_click = form.get("List-Unsubscribe") == ONE_CLICK_BODY.split("=", 1)[1]
        unsubscribe(subscriber_id, newsletter_id, "one_click" if one_click else "unsubscribe_page")
        done = "one"
    return _unsubscribe_page(load_unsubscribe(token), token, done=done)


@bp.post("/unsubscribe/<token>/undo")
@hosted(form=UndoForm)
@_token_page(load_unsubscribe)
def unsubscribe_undo(target: UnsubscribeTarget, token: str):
    """Undo a mistaken unsubscribe (signed: the token plus its form value)."""
    if not check_form_secret(token, "undo", request.form.get("secret")):
        return _bad_token()
    scope_all = request.form.get("scope") == "all"
    resubscribe(target.subscriber.id, None if scope_all else target.newsletter.id)
    return _unsubscribe_page(load_unsubscribe(token), token, done="undone")


def _preferences_page(subscriber: Subscriber, token: str, status: int = 200, saved: bool = False):
    locale = _locale(subscriber)
    statuses = {s.newsletter_id: s.status for s in subscriber.subscriptions}
    rows = [
        {
            "newsletter": n,
            "cadence": cadence(n, locale),
            "checked": statuses.get(n.id) in ("pending", "confirmed"),
            "pending": statuses.get(n.id) == "pending",
            "closed": n.archived,  # can be left, never joined again
        }
        for n in preference_newsletters(subscriber)
    ]
    return page(
        "pages/preferences.html",
        status,
        locale=locale,
        token=token,
        email=subscriber.email,
        rows=rows,
        saved=saved,
        secret=form_secret(token, "preferences"),
    )


@bp.route("/preferences/<token>", methods=["GET", "HEAD"])
@hosted()
@_token_page(load_preferences)
def preferences_page(subscriber: Subscriber, token: str):
    """The reader's newsletters (hidden or archived included) and every public one, each with
    its description and cadence, and toggles to keep or leave."""
    return _preferences_page(subscriber, token)


@bp.post("/preferences/<token>")
@hosted(form=PreferencesForm)
@_token_page(load_preferences)
def preferences_save(subscriber: Subscriber, token: str):
    """Keep exactly the ticked newsletters."""
    if not check_form_secret(token, "preferences", request.form.get("secret")):
        return _bad_token()
    slugs = set(request.form.getlist("newsletters"))
    wanted = [n.id for n in preference_newsletters(subscriber) if n.slug in slugs]
    save_preferences(
        subscriber.id, wanted, ip=request.remote_addr, user_agent=request.user_agent.string
    )
    return _preferences_page(db.session.get(Subscriber, subscriber.id), token, saved=True)


def _manage_ip_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT_IP"]


def _manage_address_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT_ADDRESS"]


def _manage_address_key() -> str:
    """The per-reader limit counts the normalised address, not the spelling typed."""
    email = request.form.get("email") or ""
    smtputf8 = current_app.config.get("SMTPUTF8", False)
    key = reader_key(email, allow_smtputf8=smtputf8) or email.strip().lower()
    return "manage:" + (key or request.remote_addr or "")


@bp.get("/manage")
@hosted()
def manage_page():
    """Ask for a link to one's preference page."""
    return page("pages/manage.html", sent=False, error=None, email="")


@bp.post("/manage")
@hosted(form=ManageForm, rate_limited=True)
@rate_limited(
    limiter.limit(_manage_ip_limit, key_func=lambda: "manage-ip:" + (request.remote_addr or "")),
    limiter.limit(_manage_address_limit, key_func=_manage_address_key),
)
def manage_submit():
    """Email a preference link; the same answer whether or not the address is known."""
    locale = request_locale(request.form.get("locale"))
    email = request.form.get("email") or ""
    try:
        address = parse_address(email, allow_smtputf8=current_app.config.get("SMTPUTF8", False))
    except InvalidEmail:
        return page(
            "pages/manage.html",
            422,
            locale=locale,
            sent=False,
            error=message("invalid_email", locale),
            email=email,
        )
    request_manage_link(address, locale)
    return page("pages/manage.html", locale=locale, sent=True, error=None, email="")
