"""DKIM keys for tests, and dkimpy as the verifier: every signature the service makes is
checked by another implementation, against the TXT record `newsletter dns` would print."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import dkim
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

DOMAIN = "news.example.org"
SELECTOR = "nl2026"
ED_SELECTOR = "nl2026-ed25519"


def _pem(key) -> str:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


@cache
def rsa_pem(bits: int = 2048) -> str:
    """An RSA private key in PEM (made once per test session and size)."""
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=bits))


@cache
def ed25519_pem() -> str:
    """An Ed25519 private key in PEM (made once per test session)."""
    return _pem(ed25519.Ed25519PrivateKey.generate())


def dkim_config(tmp_path: Path | None = None, *, ed25519: bool = True) -> dict[str, str]:
    """Settings that sign with both keys; with `tmp_path` the RSA key is given as a file."""
    key = rsa_pem()
    if tmp_path is not None:
        path = tmp_path / "dkim-rsa.pem"
        path.write_text(key)
        key = str(path)
    config = {"DKIM_SELECTOR": SELECTOR, "DKIM_DOMAIN": DOMAIN, "DKIM_PRIVATE_KEY": key}
    if ed25519:
        config["DKIM_ED25519_PRIVATE_KEY"] = ed25519_pem()
    return config


def dns_of(signer) -> dict[bytes, bytes]:
    """The TXT records publishing `signer`'s keys, by name (as dkimpy asks for them)."""
    return {
        f"{key.selector}._domainkey.{signer.domain}.".encode(): key.txt_record().encode()
        for key in signer.keys
    }


def verified(message: bytes, records: dict[bytes, bytes]) -> list[bool]:
    """dkimpy's verdict on each DKIM-Signature of `message` (topmost first), looking the
    keys up in `records` only."""

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name if name.endswith(b".") else name + b".")

    checker = dkim.DKIM(message)
    count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    results = []
    for index in range(count):
        try:
            results.append(bool(checker.verify(idx=index, dnsfunc=dnsfunc)))
        except dkim.DKIMException:
            results.append(False)
    return results
