"""Settings of mail going out authenticated and bounces coming back: DKIM keys, the VERP
bounce domain, the Feedback-ID sender and the bounce server's address.

All optional. DKIM signs only when `DKIM_SELECTOR`, `DKIM_DOMAIN` and `DKIM_PRIVATE_KEY`
are all set (one or two of them is a mistake, named at the start); a key is PEM text or the
path of a PEM file, RSA of at least 2048 bits, and `DKIM_ED25519_PRIVATE_KEY` adds a second,
Ed25519 signature (RFC 8463) under `DKIM_ED25519_SELECTOR`. Without `BOUNCE_DOMAIN` the
envelope sender of every email is its From address.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

TEXT = (
    "DKIM_SELECTOR",
    "DKIM_DOMAIN",
    "DKIM_PRIVATE_KEY",
    "DKIM_ED25519_PRIVATE_KEY",
    "DKIM_ED25519_SELECTOR",
    "BOUNCE_DOMAIN",
    "FEEDBACK_ID_SENDER",
    "BOUNCE_SMTP_HOST",
    "DNS_RESOLVER",
)
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_SENDER_ID = re.compile(r"[A-Za-z0-9_-]{5,15}")
MIN_RSA_BITS = 2048


class SettingError(ValueError):
    """A mail setting that cannot work; the message names the variable."""


def load(env: Mapping[str, str], overrides: Mapping[str, Any], mail_from: str) -> dict[str, Any]:
    """The settings: `env`, then `overrides` (a test mapping), checked."""
    got = {name: str(overrides.get(name, env.get(name)) or "").strip() for name in TEXT}
    dkim = [got["DKIM_SELECTOR"], got["DKIM_DOMAIN"], got["DKIM_PRIVATE_KEY"]]
    if any(dkim) and not all(dkim):
        raise SettingError(
            "DKIM needs DKIM_SELECTOR, DKIM_DOMAIN and DKIM_PRIVATE_KEY together (or none)."
        )
    if got["DKIM_ED25519_PRIVATE_KEY"] and not all(dkim):
        raise SettingError("DKIM_ED25519_PRIVATE_KEY needs the RSA key's DKIM settings too.")
    for name in ("DKIM_SELECTOR", "DKIM_ED25519_SELECTOR"):
        if got[name] and not _domain(got[name]):
            raise SettingError(f"{name} must be a DNS label like 'news2026', not {got[name]!r}.")
    for name in ("DKIM_DOMAIN", "BOUNCE_DOMAIN"):
        got[name] = got[name].lower().rstrip(".")
        if got[name] and not _domain(got[name]):
            raise SettingError(f"{name} must be a domain like news.example.org: {got[name]!r}.")
    if got["DKIM_PRIVATE_KEY"]:
        got["DKIM_PRIVATE_KEY"] = _key_text("DKIM_PRIVATE_KEY", got["DKIM_PRIVATE_KEY"], "rsa")
        got["DKIM_ED25519_SELECTOR"] = got["DKIM_ED25519_SELECTOR"] or (
            got["DKIM_SELECTOR"] + "-ed25519"
        )
    if got["DKIM_ED25519_PRIVATE_KEY"]:
        text = _key_text("DKIM_ED25519_PRIVATE_KEY", got["DKIM_ED25519_PRIVATE_KEY"], "ed25519")
        got["DKIM_ED25519_PRIVATE_KEY"] = text
    sender_id = got["FEEDBACK_ID_SENDER"] or default_sender_id(mail_from)
    if not _SENDER_ID.fullmatch(sender_id):
        raise SettingError(
            "FEEDBACK_ID_SENDER must be 5 to 15 letters, digits, '-' or '_' "
            f"(Gmail's SenderId), not {sender_id!r}."
        )
    got["FEEDBACK_ID_SENDER"] = sender_id
    got["BOUNCE_SMTP_HOST"] = got["BOUNCE_SMTP_HOST"] or "127.0.0.1"
    port = str(overrides.get("BOUNCE_SMTP_PORT", env.get("BOUNCE_SMTP_PORT")) or "2525").strip()
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingError(f"BOUNCE_SMTP_PORT must be a port number, not {port!r}.")
    got["BOUNCE_SMTP_PORT"] = int(port)
    timeout = str(overrides.get("DNS_TIMEOUT", env.get("DNS_TIMEOUT")) or "3").strip()
    try:
        got["DNS_TIMEOUT"] = float(timeout)
    except ValueError:
        got["DNS_TIMEOUT"] = -1.0
    if not 0 < got["DNS_TIMEOUT"] <= 60:
        raise SettingError(f"DNS_TIMEOUT must be seconds between 0 and 60, not {timeout!r}.")
    return got


def default_sender_id(mail_from: str) -> str:
    """A stable SenderId when none is set: `nl` and 8 characters derived from the From
    address's domain (the same for every process and every send of one publisher)."""
    domain = mail_from.rpartition("@")[2].lower() or "localhost"
    digest = base64.b32encode(hashlib.sha256(domain.encode()).digest()).decode()
    return "nl" + digest[:8].lower()


def _domain(text: str) -> bool:
    return all(_LABEL.fullmatch(label) for label in text.lower().split("."))


def _key_text(name: str, value: str, kind: str) -> str:
    """The key's PEM text (read from the file if `value` is a path), checked to be usable."""
    if "-----BEGIN" not in value:
        try:
            value = Path(value).expanduser().read_text()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not a PEM file"
            raise SettingError(f"{name}: cannot read the key file {value!r}: {reason}.") from None
    try:
        key = load_pem_private_key(value.encode(), password=None)
    except (ValueError, TypeError):
        raise SettingError(f"{name} is not an unencrypted PEM private key.") from None
    if kind == "rsa":
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < MIN_RSA_BITS:
            raise SettingError(f"{name} must be an RSA key of at least {MIN_RSA_BITS} bits.")
    elif not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SettingError(f"{name} must be an Ed25519 key.")
    return value
