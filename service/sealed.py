"""Secrets the service must read back (a staff member's TOTP secret, a webhook's `whsec_`
secret), sealed at rest so a database dump or a read-only SQL leak does not hand them over.

A sealed value is `sealed:v1:` and a Fernet token (AES-128-CBC and HMAC-SHA256, from
`cryptography`) under a key derived from `SECRET_KEY` with HKDF-SHA256 and an `info` string
per purpose, so the TOTP key never opens a webhook secret and no new setting is needed.
`SECRET_KEY` is the same comma-separated list the signed links use: the newest key seals,
every listed key opens (MultiFernet), so a rotation keeps old values readable until
`newsletter secrets reseal` has sealed them under the new key. A value without the prefix is
a plain one from before migration 0028 (or from an old process during a rolling deploy): it
is read as it is and sealed by the next reseal. A sealed value that no listed key opens is
`Unreadable`: callers say so clearly, never with the secret.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

PREFIX = "sealed:v1:"
TOTP = "staff.totp"  # a staff member's TOTP secret
WEBHOOK = "webhook.secret"  # a webhook endpoint's whsec_ secret (and the previous one)
PURPOSES = (TOTP, WEBHOOK)
_SALT = b"newsletter-service sealed secrets"


class Unreadable(Exception):
    """A sealed value that no key in `SECRET_KEY` opens (its key was removed, or it is
    damaged). The message names the purpose, never the value."""


def is_sealed(value: str | None) -> bool:
    """Whether a stored value is sealed (else it is empty or a plain legacy value)."""
    return bool(value) and value.startswith(PREFIX)  # type: ignore[union-attr]


def _fernet(secret_key: str, purpose: str) -> Fernet:
    """The Fernet key of one `SECRET_KEY` for one purpose (HKDF-SHA256, 32 bytes)."""
    info = f"newsletter-service sealed {purpose}".encode()
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


class Sealer:
    """Seals and opens the values of one purpose under the service's keys (newest first)."""

    def __init__(self, secret_keys: Sequence[str], purpose: str) -> None:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown purpose {purpose!r}")
        if not secret_keys:
            raise ValueError("sealing needs at least one secret key")
        self.purpose = purpose
        self._keys = [_fernet(key, purpose) for key in secret_keys]
        self._all = MultiFernet(self._keys)

    def seal(self, plain: str) -> str:
        """`plain` sealed under the newest key."""
        return PREFIX + self._all.encrypt(plain.encode()).decode()

    def open(self, stored: str) -> str:
        """The plain value of a stored one (a plain legacy value as it is); `Unreadable` when
        no key opens it."""
        if not is_sealed(stored):
            return stored
        try:
            return self._all.decrypt(stored[len(PREFIX) :].encode()).decode()
        except (InvalidToken, UnicodeDecodeError):
            raise Unreadable(
                f"a sealed {self.purpose} value opens with no key in SECRET_KEY"
            ) from None

    def is_current(self, stored: str) -> bool:
        """Whether `stored` is sealed under the newest key (nothing for a reseal to do)."""
        if not is_sealed(stored):
            return False
        try:
            self._keys[0].decrypt(stored[len(PREFIX) :].encode())
        except InvalidToken:
            return False
        return True


@lru_cache(maxsize=16)
def _sealer(keys: tuple[str, ...], purpose: str) -> Sealer:
    return Sealer(keys, purpose)


def sealer(purpose: str) -> Sealer:
    """The sealer of `purpose` under the current app's `SECRET_KEY` list."""
    return _sealer(tuple(current_app.config["SECRET_KEYS"]), purpose)


def seal(purpose: str, plain: str) -> str:
    """`plain` sealed for `purpose` under the app's newest key."""
    return sealer(purpose).seal(plain)


def unseal(purpose: str, stored: str) -> str:
    """The plain value of `stored` for `purpose`; `Unreadable` when no key opens it."""
    return sealer(purpose).open(stored)


@dataclass
class Tally:
    """What a check or a reseal found: values under the newest key, values it (re)sealed (or,
    checking, would), and the labels of those no key opens."""

    current: int = 0
    resealed: int = 0
    unreadable: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> Tally:
        """Both tallies in one."""
        return Tally(
            self.current + other.current,
            self.resealed + other.resealed,
            self.unreadable + other.unreadable,
        )


def reseal_rows(
    rows: Iterable[Any],
    purpose: str,
    attribute: str,
    label: Callable[[Any], str],
    *,
    write: bool,
) -> Tally:
    """Seal each row's `attribute` under the newest key (a value under an older key or a
    plain one; an empty one is left), or with `write` false only count; the caller commits."""
    box, tally = sealer(purpose), Tally()
    for row in rows:
        stored = getattr(row, attribute)
        if not stored:
            continue
        if box.is_current(stored):
            tally.current += 1
            continue
        try:
            plain = box.open(stored)
        except Unreadable:
            tally.unreadable.append(label(row))
            continue
        tally.resealed += 1
        if write:
            setattr(row, attribute, box.seal(plain))
    return tally
