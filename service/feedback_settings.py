"""Settings of bounces and complaints in (`service.deliverability`), from the environment: the
brakes, the soft-bounce window and the provider hooks' secrets. A provider's hook answers 404
while its secret is unset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULTS: dict[str, int | float] = {
    "SOFT_BOUNCE_LIMIT": 3,
    "SOFT_BOUNCE_WINDOW_DAYS": 15.0,
    "BRAKE_MIN_MESSAGES": 300,
    "BRAKE_COMPLAINT_RATE": 0.003,
    "BRAKE_COMPLAINT_WARN_RATE": 0.001,
    "BRAKE_BOUNCE_RATE": 0.05,
    "PROVIDER_HOOK_MAX_AGE": 300,  # seconds a signed timestamp stays fresh (SendGrid, Mailgun)
    "PROVIDER_HOOK_MAX_BYTES": 1024 * 1024,  # a hook's body at most (SES batches, SendGrid)
}
SECRETS = (
    "SES_TOPIC_ARNS",
    "POSTMARK_WEBHOOK_USER",
    "POSTMARK_WEBHOOK_PASSWORD",
    "SENDGRID_WEBHOOK_PUBLIC_KEY",
    "MAILGUN_SIGNING_KEY",
)
SES_CERT_HOSTS_DEFAULT = r"sns\.[a-z0-9-]+\.amazonaws\.com"


class SettingError(ValueError):
    """A deliverability setting that is not a number of its kind."""


def _number(name: str, value: object, default: int | float) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = type(default)(value)
    else:
        text = str(value or "").strip()
        if not text:
            return default
        try:
            number = type(default)(text)
        except ValueError:
            message = f"{name} must be a number (default {default}), not {text!r}."
            raise SettingError(message) from None
    if number < 0 or number != number:
        raise SettingError(f"{name} must be 0 or more (default {default}).")
    return number


def load(env: Mapping[str, str], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The settings: defaults, then `env`, then `overrides` (a test mapping)."""
    settings: dict[str, Any] = {}
    for name, default in DEFAULTS.items():
        settings[name] = _number(name, overrides.get(name, env.get(name)), default)
    for name in SECRETS:
        settings[name] = str(overrides.get(name, env.get(name)) or "").strip()
    hosts = overrides.get("SES_CERT_HOSTS", env.get("SES_CERT_HOSTS"))
    settings["SES_CERT_HOSTS"] = str(hosts or "").strip() or SES_CERT_HOSTS_DEFAULT
    return settings
