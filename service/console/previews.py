"""The digest in the console: what a newsletter would send now, at desktop and phone width
and in dark mode, and a test copy mailed to the member's own address. The same service
functions as `GET /api/v1/digest-preview/<slug>` and its `/test`.

The digest is HTML the service rendered from articles (which come from feeds and the API), so
it is shown only inside sandboxed iframes and served with a policy of its own: no script, no
form, no plugin, framed only by the console itself.
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import LazyString, lazy_gettext
from flask_babel import gettext as _
from flask_login import current_user

from service.addresses import InvalidEmail
from service.console import bp
from service.console.auth import action_form, requires
from service.console.pages import render
from service.digests.compose import compose_report, render_sample, request_test_digest, test_content
from service.i18n import LOCALES, UnknownLocale, checked_locale
from service.lists.newsletters import get_newsletter
from service.models import Newsletter

# The digest's HTML may show article images from anywhere; nothing else loads or runs.
PREVIEW_POLICY = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox"
)
DARK_QUERY = "@media (prefers-color-scheme: dark)"
SCHEMES = {"dark": "@media all", "light": "@media not all"}


def _newsletter_or_404(slug: str) -> Newsletter:
    newsletter = get_newsletter(slug)
    if newsletter is None:
        abort(404)
    return newsletter


def _locale() -> str:
    try:
        return checked_locale(request.args.get("locale") or "en")
    except UnknownLocale:
        abort(404)


def _preview_page(newsletter: Newsletter, locale: str, test_to: str, problem: object = None,
                  status: int = 200):  # fmt: skip
    content, selection = compose_report(newsletter)
    return render(
        "console/digest_preview.html",
        status=status,
        newsletter=newsletter,
        subject=content.subject if content else None,
        skipped=selection.skipped_text(),
        digest_locale=locale,
        locales=LOCALES,
        test_to=test_to,
        problem=problem,
        member=current_user,
        form=action_form(),
    )


@bp.get("/newsletters/<slug>/digest")
def digest_preview(slug: str):
    """The next digest framed three ways (desktop, phone, dark), or why there is none; the
    test-send form (the member's own address to start with) for those who may send."""
    return _preview_page(_newsletter_or_404(slug), _locale(), current_user.email)


@bp.get("/newsletters/<slug>/digest.html")
def digest_html(slug: str):
    """The digest's HTML itself, for the preview's iframes (`scheme`: light or dark)."""
    newsletter = _newsletter_or_404(slug)
    content, _selection = compose_report(newsletter)
    if content is None:
        abort(404)
    html = render_sample(content, newsletter, _locale()).html
    scheme = request.args.get("scheme", "light")
    html = html.replace(DARK_QUERY, SCHEMES.get(scheme, SCHEMES["light"]))
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    return response


@bp.post("/newsletters/<slug>/test-send")
@requires("send")
def test_send(slug: str):
    """Mail a test copy of the digest (or, with nothing new, of the last issue) to the address
    typed (the member's own to start with: the same as `POST /api/v1/digest-preview/<slug>/test`),
    through the worker; an address mail cannot reach is said on the page, as typed."""
    newsletter = _newsletter_or_404(slug)
    locale = request.form.get("locale") or "en"
    address = (request.form.get("email") or current_user.email).strip()[:254]
    target = url_for("console.digest_preview", slug=slug, locale=locale)
    test = test_content(newsletter)
    if test is None:
        flash(_("Nothing to test: no new articles and no issue sent yet."), "error")
        return redirect(target)
    try:
        request_test_digest(newsletter, address, locale=locale)
    except InvalidEmail as exc:
        problem = unreachable(address, exc)
        return _preview_page(newsletter, checked_or_english(locale), address, problem, 422)
    except UnknownLocale as exc:
        flash(_("Not sent: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("console.digest_preview", slug=slug))
    flash(_("A test copy is on its way to %(email)s.", email=address))
    return redirect(target)


def unreachable(address: str, exc: InvalidEmail) -> LazyString:
    """Why nothing can be mailed to `address` (a test copy, an invitation), and what to do
    instead (said in the page's language, which a test copy's language does not choose)."""
    if exc.reason == "reserved_domain":
        return lazy_gettext("Not sent: %(domain)s is reserved for examples and tests, so no mail can reach "
                 "it. Type an address that receives mail.", domain=address.rpartition("@")[2][:100])  # fmt: skip
    return lazy_gettext("Not sent: mail cannot reach %(address)s (%(reason)s). Type an address that "
             "receives mail.", address=address[:100], reason=str(exc))  # fmt: skip


def checked_or_english(locale: str) -> str:
    """The digest language asked for, or English when there is no such catalogue."""
    try:
        return checked_locale(locale)
    except UnknownLocale:
        return "en"
