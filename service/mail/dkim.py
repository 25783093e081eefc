"""DKIM signatures (RFC 6376) on every email the service sends, made with `cryptography`.

rsa-sha256 (and, with a second key, ed25519-sha256 as RFC 8463 defines it), relaxed/relaxed
canonicalization, over the `SIGNED` headers the message has (From, Subject and To signed once
more than they occur, so a second one added on the way breaks the signature). dkimpy signs
the same way but costs ~13 ms for a 47 KB digest; here a signature costs the private-key
operation, one SHA-256 of the body and a few microseconds of header work, since a message
this service made has its body in canonical form already (base64 and MIME lines:
`body_canonical=True` skips the scan; any other body is canonicalized first). dkimpy
verifies in the tests.

`Signer.sign(message)` returns the DKIM-Signature header lines to put before the message;
`signed_fields` and `sign_canonical` let a send do the header work once for all its copies
(`service.sending.signing_plan`). `signer()` is the app's (None without `DKIM_*`), made once
per process.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)
from flask import current_app

SIGNED = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
)
OVERSIGNED = frozenset({"from", "subject", "to"})
_SIGNED_SET = frozenset(name.encode() for name in SIGNED)
_SIGNING_ORDER = tuple((name.encode(), name in OVERSIGNED) for name in SIGNED)
_H_NAMES = {  # a header's names in h=, made once for 1 to 4 instances
    (name.encode(), count): ":".join([name] * count) for name in SIGNED for count in range(1, 5)
}
_WSP = re.compile(rb"[ \t]+")
_FIELD = re.compile(rb"([^\x00-\x20:\x7f]+)[ \t]*:(.*?)\r\n(?![ \t])", re.S)
_B_LINE = 76  # characters of the base64 signature per folded line
_PKCS1, _SHA256 = padding.PKCS1v15(), hashes.SHA256()


@dataclass(frozen=True)
class Key:
    """One signing key: its selector, algorithm (`rsa` or `ed25519`) and private key."""

    selector: str
    algorithm: str
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    def sign(self, data: bytes) -> bytes:
        """The raw signature of the canonical header data."""
        if self.algorithm == "rsa":
            return self.private.sign(data, _PKCS1, _SHA256)  # type: ignore[call-arg]
        return self.private.sign(hashlib.sha256(data).digest())  # type: ignore[call-arg]

    def txt_record(self) -> str:
        """The DNS TXT value publishing this key's public half (`v=DKIM1; k=...; p=...`)."""
        public = self.private.public_key()
        if self.algorithm == "rsa":
            der = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        else:
            der = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return f"v=DKIM1; k={self.algorithm}; p={base64.b64encode(der).decode()}"


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """A header field in relaxed form: lowercase name, unfolded value, runs of spaces one."""
    value = _WSP.sub(b" ", value.replace(b"\r\n", b"")).strip(b" \t")
    return name.lower().rstrip(b" \t") + b":" + value + b"\r\n"


# A send's fixed headers recur in every copy: their relaxed form is made once.
canonical_header = lru_cache(maxsize=512)(relaxed_header)


def canonical_body(body: bytes) -> bytes:
    """A body in relaxed form: runs of spaces one, none at a line's end, no trailing blank
    lines, and a final CRLF unless empty."""
    if b"\t" in body or b"  " in body or b" \r\n" in body:
        body = _WSP.sub(b" ", body).replace(b" \r\n", b"\r\n")
    return _end(body)


def _end(body: bytes) -> bytes:
    """No empty lines at the end, and a final CRLF (an empty body stays empty)."""
    if not body.endswith(b"\r\n"):
        return body + b"\r\n" if body else b""
    end = len(body)
    while body.endswith(b"\r\n\r\n", 0, end):
        end -= 2
    return b"" if end == 2 else body[:end]


class Signer:
    """Signs messages for one domain with one or two keys (rsa, then ed25519)."""

    def __init__(self, domain: str, keys: list[Key]) -> None:
        self.domain = domain
        self.keys = keys

    def sign(
        self, message: bytes, *, body_canonical: bool = False, body_hash: bytes | None = None
    ) -> bytes:
        """The DKIM-Signature header lines (CRLF ends) to put before `message`, which must
        have CRLF line ends. `body_canonical`: the caller knows the body needs no change
        beyond `canonical_body`'s trailing-line rule (no tab, no double or trailing space);
        `body_hash`: the caller has the SHA-256 of the canonical body already."""
        end = message.find(b"\r\n\r\n")
        if body_hash is not None:
            head, body = message[: end + 2], b""
        elif end < 0:
            head = message if message.endswith(b"\r\n") else message + b"\r\n"
            body: bytes | memoryview = b""
        elif body_canonical and message.endswith(b"\r\n") and not message.endswith(b"\r\n\r\n"):
            head, body = message[: end + 2], memoryview(message)[end + 4 :]  # hashed uncopied
        else:
            head, body = message[: end + 2], canonical_body(message[end + 4 :])
        return self.sign_head(head, body_hash or hashlib.sha256(body).digest())

    def sign_head(self, head: bytes, body_hash: bytes) -> bytes:
        """`sign` for a message given as its header block (each field ending in CRLF, no
        blank line) and the SHA-256 of its canonical body."""
        h, data = self.signed_fields(head)
        return self.sign_canonical(h, b"".join(data), body_hash)

    def signed_fields(self, head: bytes) -> tuple[str, list[bytes]]:
        """The `h=` tag and the relaxed form of each header it names, in its order."""
        fields: dict[bytes, list[bytes]] = {}
        for name, value in _FIELD.findall(head):
            lower = name.lower()
            if lower in _SIGNED_SET:
                canonical = canonical_header(name, value)
                found = fields.get(lower)
                if found is None:
                    fields[lower] = [canonical]
                else:
                    found.append(canonical)
        names: list[str] = []
        data = []
        for name, oversigned in _SIGNING_ORDER:
            found = fields.get(name)
            if found is not None:
                count = len(found) + oversigned
                names.append(_H_NAMES.get((name, count)) or ":".join([name.decode()] * count))
                data.extend(reversed(found))  # bottom-up, as a verifier selects them
        return ":".join(names), data

    def sign_canonical(self, h: str, signed: bytes, body_hash: bytes) -> bytes:
        """The signature header lines for headers already in relaxed form (`signed_fields`,
        joined) and the SHA-256 of the canonical body."""
        digest = base64.b64encode(body_hash).decode()
        stamp = int(time.time())
        out = []
        for key in self.keys:
            tags = (
                f"DKIM-Signature: v=1; a={key.algorithm}-sha256; c=relaxed/relaxed;\r\n"
                f"\td={self.domain}; s={key.selector}; t={stamp};\r\n"
                f"\th={h};\r\n\tbh={digest};\r\n\tb="
            ).encode()
            # Its relaxed form, without a CRLF (RFC 6376 3.7): the folds are single spaces.
            own = b"dkim-signature:" + tags[16:].replace(b"\r\n\t", b" ")
            signature = base64.b64encode(key.sign(signed + own))
            lines = [signature[i : i + _B_LINE] for i in range(0, len(signature), _B_LINE)]
            out.append(tags + b"\r\n\t".join(lines) + b"\r\n")
        return b"".join(out)


def load_key(selector: str, pem: str, algorithm: str) -> Key:
    """A key from its PEM text (checked by `service.mail_settings` at the start)."""
    return Key(selector, algorithm, load_pem_private_key(pem.encode(), password=None))  # type: ignore[arg-type]


@lru_cache(maxsize=4)
def _signer(domain: str, selector: str, pem: str, ed_selector: str, ed_pem: str) -> Signer:
    keys = [load_key(selector, pem, "rsa")]
    if ed_pem:
        keys.append(load_key(ed_selector, ed_pem, "ed25519"))
    return Signer(domain, keys)


def signer() -> Signer | None:
    """The app's signer, or None when DKIM is not configured (mail goes out unsigned)."""
    config = current_app.config
    if not config.get("DKIM_PRIVATE_KEY"):
        return None
    return _signer(
        config["DKIM_DOMAIN"],
        config["DKIM_SELECTOR"],
        config["DKIM_PRIVATE_KEY"],
        config.get("DKIM_ED25519_SELECTOR", ""),
        config.get("DKIM_ED25519_PRIVATE_KEY", ""),
    )
