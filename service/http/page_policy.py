"""One security policy for every answer: what a browser may load, run and frame on our pages.

Every response carries `X-Content-Type-Options: nosniff` and a `Referrer-Policy` of
`same-origin` (the tokens in our URLs never leave for other sites; our own form posts keep their
Referer). Every HTML page also carries one Content-Security-Policy: scripts only from this
origin and, when a captcha is on, from its provider (no page has an inline script, so no nonce
is needed), styles from here and inline (the pages' `<style>` blocks and `style` attributes),
no plugins, no `<base>`, forms posting only here, and `frame-ancestors 'none'` with
`X-Frame-Options: DENY`.

A view that may be framed (the iframe form) calls `allow_framing(ancestors)`: its page gets
that `frame-ancestors` list and no `X-Frame-Options`, which cannot name a list (`'self'` alone
is `SAMEORIGIN`). A view that
serves HTML we did not write (an archived issue, an outbox email) sets a stricter policy of its
own; it is kept, with `frame-ancestors 'self'` added when it names no ancestors (such HTML
is shown framed by our own pages, never by others).

A page that carries a secret (a link token: `/confirm/…`, `/unsubscribe/…`, `/preferences/…`,
and the development outbox viewer, which shows whole emails) is sent with
`Cache-Control: no-store`, whatever its status, so no shared or browser cache keeps it.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request

from service.redaction import TOKEN_PATHS

# Where each captcha provider's script, frames and calls come from (their documented CSP).
CAPTCHA_SOURCES = {
    "turnstile": ("https://challenges.cloudflare.com",),
    "hcaptcha": ("https://hcaptcha.com", "https://*.hcaptcha.com"),
}
REFERRER_POLICY = "same-origin"
# For browsers without CSP frame-ancestors; a list of origins has no X-Frame-Options form.
X_FRAME_OPTIONS = {"'none'": "DENY", "'self'": "SAMEORIGIN"}
SECRET_PREFIXES = (*(f"/{name}/" for name in TOKEN_PATHS), "/dev/outbox")


def allow_framing(ancestors: str) -> None:
    """Let this request's page be framed by `ancestors` (a CSP source list)."""
    g.frame_ancestors = ancestors


def page_policy(frame_ancestors: str = "'none'") -> str:
    """The Content-Security-Policy of our own HTML pages."""
    extra = " ".join(CAPTCHA_SOURCES.get(current_app.config.get("CAPTCHA_PROVIDER") or "", ()))
    with_captcha = f"'self' {extra}".strip()
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {with_captcha}",
            f"style-src 'self' 'unsafe-inline' {extra}".strip(),
            "img-src 'self' data:",
            f"connect-src {with_captcha}",
            f"frame-src {with_captcha}",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            f"frame-ancestors {frame_ancestors}",
        )
    )


def secure_headers(response: Response) -> Response:
    """Add the policy to `response` (an `after_request` hook of the whole app)."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    if request.path.startswith(SECRET_PREFIXES):
        response.headers["Cache-Control"] = "no-store"
    if response.mimetype != "text/html":
        return response
    ancestors = g.get("frame_ancestors", "'none'")
    own = response.headers.get("Content-Security-Policy")
    if own is None:
        response.headers["Content-Security-Policy"] = page_policy(ancestors)
    elif "frame-ancestors" in own:
        ancestors = own.split("frame-ancestors", 1)[1].split(";", 1)[0].strip()
    else:  # HTML we did not write, shown by a page of ours (an email in the outbox viewer)
        ancestors = g.get("frame_ancestors", "'self'")
        response.headers["Content-Security-Policy"] = f"{own}; frame-ancestors {ancestors}"
    frame_options = X_FRAME_OPTIONS.get(ancestors)
    if frame_options is None:
        response.headers.pop("X-Frame-Options", None)
    else:
        response.headers["X-Frame-Options"] = frame_options
    return response


def register(app: Flask) -> None:
    """Apply the policy to every response of `app`."""
    app.after_request(secure_headers)
