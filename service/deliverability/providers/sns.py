"""Amazon SNS message signatures (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA).

The signing certificate is fetched over https only from a host matching `SES_CERT_HOSTS`
(comma-separated patterns, `*` one DNS label; default `sns.*.amazonaws.com`), with the
system's certificate authorities, no redirect followed, and kept in memory by URL. The string to sign is the
message's fields, each `Name\\nValue\\n`, in the order AWS documents for its type.
"""

from __future__ import annotations

import base64
import binascii
import re
import ssl
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from service.deliverability.providers import Refused

FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
FIELDS["UnsubscribeConfirmation"] = FIELDS["SubscriptionConfirmation"]
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
FETCH_TIMEOUT = 5.0
MAX_CERT_BYTES = 64 * 1024
_cache: dict[str, rsa.RSAPublicKey] = {}
_lock = threading.Lock()


def host_allowed(url: str, patterns: str) -> bool:
    """True for an https URL without user info whose host (and port, if any) matches one of
    the comma-separated `patterns` (`*` is one DNS label)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme != "https" or parts.username or parts.password or not parts.hostname:
        return False
    netloc = parts.netloc.lower()
    for pattern in filter(None, (p.strip().lower() for p in patterns.split(","))):
        regex = re.escape(pattern).replace(r"\*", "[a-z0-9-]+")
        if re.fullmatch(regex, netloc):
            return True
    return False


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The bytes SNS signed for `message` (a 403 for a type it does not sign)."""
    fields = FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise Refused(403, "bad_signature", "not an SNS message type")
    lines = []
    for name in fields:
        value = message.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise Refused(403, "bad_signature", f"SNS field {name} is not text")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: it could lead off the allowed hosts."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def https_get(url: str, timeout: float, limit: int) -> tuple[int, bytes]:
    """GET an https `url` the caller checked (`host_allowed`), no redirect followed:
    (status, at most `limit` + 1 bytes of the body). Raises OSError."""
    if urlsplit(url).scheme != "https":
        raise OSError("only https")
    handler = urllib.request.HTTPSHandler(context=ssl.create_default_context())
    opener = urllib.request.build_opener(_NoRedirect, handler)
    with opener.open(url, timeout=timeout) as answer:
        return answer.status, answer.read(limit + 1)


def certificate_key(url: str, patterns: str) -> rsa.RSAPublicKey:
    """The RSA key of the signing certificate at `url` (fetched once, from allowed hosts)."""
    if not host_allowed(url, patterns) or not urlsplit(url).path.endswith(".pem"):
        raise Refused(403, "certificate_host", "the signing certificate's URL is not allowed")
    with _lock:
        key = _cache.get(url)
    if key is not None:
        return key
    try:
        status, pem = https_get(url, FETCH_TIMEOUT, MAX_CERT_BYTES)
        if status != 200 or len(pem) > MAX_CERT_BYTES:
            raise ValueError(f"HTTP {status} or over {MAX_CERT_BYTES} bytes")
        public = x509.load_pem_x509_certificate(pem).public_key()
    except (OSError, ValueError) as exc:
        raise Refused(403, "certificate", f"the signing certificate is unusable: {exc}") from None
    if not isinstance(public, rsa.RSAPublicKey):
        raise Refused(403, "certificate", "the signing certificate's key is not RSA")
    with _lock:
        _cache[url] = public
    return public


def verify_message(message: Mapping[str, Any], patterns: str) -> None:
    """The SNS message's signature verifies with its certificate (else a 403)."""
    algorithm = HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise Refused(403, "bad_signature", "unknown SNS SignatureVersion")
    signed = string_to_sign(message)
    try:
        signature = base64.b64decode(str(message.get("Signature") or ""), validate=True)
    except (ValueError, binascii.Error):
        raise Refused(403, "bad_signature", "the signature is not base64") from None
    key = certificate_key(str(message.get("SigningCertURL") or ""), patterns)
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise Refused(403, "bad_signature", "the signature does not verify") from None
