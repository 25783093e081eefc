"""Anti-forgery values for the reader pages' forms, derived from the page's own token.

The pages set no cookies, so a form's secret is an HMAC of the token in its URL: a page from
someone else's link cannot post to this one.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app


def form_secret(token: str, form: str) -> str:
    """The anti-forgery value of `form` on the page of `token`."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{form}:{token}".encode(), hashlib.sha256).hexdigest()[:40]


def check_form_secret(token: str, form: str, value: str | None) -> bool:
    """True if `value` is the anti-forgery value of `form` on the page of `token`."""
    return bool(value) and hmac.compare_digest(form_secret(token, form), value or "")
