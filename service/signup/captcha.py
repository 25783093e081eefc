"""Optional human check on signup: Cloudflare Turnstile or hCaptcha, verified server-side.

Off unless `CAPTCHA_PROVIDER` is `turnstile` or `hcaptcha` (with `CAPTCHA_SITE_KEY` and
`CAPTCHA_SECRET_KEY`). The browser widget puts its token in the provider's own field
(`cf-turnstile-response` / `h-captcha-response`, in a form or a JSON body); `verify` posts it
to the provider's siteverify URL (`CAPTCHA_VERIFY_URL` overrides it, e.g. for tests) within
`CAPTCHA_TIMEOUT` seconds. A missing or rejected token raises `CaptchaFailed`; a provider that
cannot be reached or answers nonsense raises `CaptchaUnavailable`, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from flask import current_app


@dataclass(frozen=True)
class Provider:
    """What differs between providers: the form field, the check URL, the widget script."""

    field: str
    verify_url: str
    script_url: str
    widget_class: str


PROVIDERS = {
    "turnstile": Provider(
        field="cf-turnstile-response",
        verify_url="https://challenges.cloudflare.com/turnstile/v0/siteverify",
        script_url="https://challenges.cloudflare.com/turnstile/v0/api.js",
        widget_class="cf-turnstile",
    ),
    "hcaptcha": Provider(
        field="h-captcha-response",
        verify_url="https://api.hcaptcha.com/siteverify",
        script_url="https://js.hcaptcha.com/1/api.js",
        widget_class="h-captcha",
    ),
}


class CaptchaFailed(Exception):
    """The token is missing, expired, reused or rejected by the provider."""


class CaptchaUnavailable(Exception):
    """The provider could not be asked (down, slow, or an answer we cannot read)."""


def provider() -> Provider | None:
    """The configured provider, or None when the check is off."""
    return PROVIDERS.get(current_app.config["CAPTCHA_PROVIDER"])


def widget_config() -> dict[str, str] | None:
    """What a browser needs to draw the widget (never the secret), or None when off."""
    chosen = provider()
    if chosen is None:
        return None
    return {
        "provider": current_app.config["CAPTCHA_PROVIDER"],
        "site_key": current_app.config["CAPTCHA_SITE_KEY"],
        "script": chosen.script_url,
        "field": chosen.field,
        "class": chosen.widget_class,
    }


def verify(fields: Mapping[str, Any], remote_ip: str | None) -> None:
    """Check the submitted token with the provider; do nothing when the check is off."""
    chosen = provider()
    if chosen is None:
        return
    token = fields.get(chosen.field)
    if not isinstance(token, str) or not token.strip():
        raise CaptchaFailed("missing-input-response")
    config = current_app.config
    data = {"secret": config["CAPTCHA_SECRET_KEY"], "response": token.strip()}
    if remote_ip:
        data["remoteip"] = remote_ip
    try:
        answer = requests.post(
            config["CAPTCHA_VERIFY_URL"] or chosen.verify_url,
            data=data,
            timeout=config["CAPTCHA_TIMEOUT"],
        )
        answer.raise_for_status()
        result = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise CaptchaUnavailable(str(exc)) from exc
    if not isinstance(result, dict):
        raise CaptchaUnavailable("the provider's answer is not a JSON object")
    if result.get("success") is not True:
        raise CaptchaFailed(",".join(map(str, result.get("error-codes") or [])) or "rejected")
