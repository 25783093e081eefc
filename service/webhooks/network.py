"""Where a webhook may go: public addresses only (no SSRF), checked when an endpoint is made
and again on every connection, against the address actually connected to.

A name that resolves to a public address today may resolve to 127.0.0.1 tomorrow (DNS
rebinding), so resolving once at creation is not enough: each delivery's socket is checked
after it connects and before a byte of the request is written. `WEBHOOK_ALLOW_PRIVATE=true`
lifts the rule (tests, an intranet). Redirects are never followed and proxies never used.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2000
EXCERPT_BYTES = 512  # of an answer's body, kept with the attempt
EXCERPT_CHARS = 200


class BlockedAddress(Exception):
    """The endpoint's host is (or now resolves to) a private, loopback or link-local address."""


class InvalidUrl(ValueError):
    """The text is no URL a webhook can be posted to; the message says why."""


def is_public(address: str) -> bool:
    """True for an address on the public internet (not private, loopback, link-local,
    reserved, multicast or unspecified; an IPv4 address mapped into IPv6 counts as itself)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def parse_url(text: object) -> SplitResult:
    """An absolute http(s) URL with a host and no user info or fragment; else `InvalidUrl`."""
    if not isinstance(text, str) or not text:
        raise InvalidUrl("must be an http(s) URL")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidUrl(f"longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidUrl("holds spaces or control characters")
    if not text.isascii():
        raise InvalidUrl("must be ASCII (a host in punycode, a path percent-encoded)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidUrl(f"cannot be read: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidUrl("must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl("must not carry a user name or password")
    if parts.fragment or text.endswith("#"):
        raise InvalidUrl("must not have a fragment")
    if port == 0:
        raise InvalidUrl("port 0 is not a port")
    return parts


def default_port(parts: SplitResult) -> int:
    """The URL's port, or its scheme's."""
    return parts.port or (443 if parts.scheme == "https" else 80)


def check_host(parts: SplitResult, allow_private: bool) -> None:
    """Resolve the URL's host now: `InvalidUrl` if it does not resolve, `BlockedAddress` if
    any address it resolves to is not public (unless `allow_private`)."""
    try:
        infos = socket.getaddrinfo(parts.hostname, default_port(parts), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise InvalidUrl(f"host {parts.hostname} does not resolve") from None
    private = sorted({info[4][0] for info in infos if not is_public(info[4][0])})
    if private and not allow_private:
        raise BlockedAddress(
            f"host {parts.hostname} resolves to {', '.join(private)}: private, loopback or "
            "link-local addresses are refused (WEBHOOK_ALLOW_PRIVATE=true allows them)"
        )


@dataclass
class Answer:
    """What an endpoint answered: status (None if no answer), excerpt, Retry-After, timing."""

    status: int | None
    excerpt: str = ""
    retry_after: str | None = None
    error: str = ""
    duration_ms: int = 0
    blocked: bool = False
    outcome: str = ""  # set by the delivery that judges it


def _checked_connect(allow_private: bool):
    def connect(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None):
        sock = socket.create_connection(address, timeout, source_address)
        peer = sock.getpeername()[0]
        if not allow_private and not is_public(peer):
            sock.close()
            raise BlockedAddress(f"{address[0]} connected to {peer}, which is not public")
        return sock

    return connect


def _excerpt(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else " " for ch in text)[:EXCERPT_CHARS]


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool):
    """POST `body` to `url` once; the `Answer` (never raises for network trouble)."""
    parts = parse_url(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname, default_port(parts), timeout=timeout)
    conn._create_connection = _checked_connect(allow_private)  # type: ignore[attr-defined]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read(EXCERPT_BYTES)
        answer = Answer(response.status, _excerpt(raw), response.getheader("Retry-After"), "")
    except BlockedAddress as exc:
        answer = Answer(None, error=str(exc), blocked=True)
    except (OSError, http.client.HTTPException) as exc:
        answer = Answer(None, error=f"{type(exc).__name__}: {exc}"[:300])
    finally:
        conn.close()
    answer.duration_ms = round((time.monotonic() - started) * 1000)
    return answer
