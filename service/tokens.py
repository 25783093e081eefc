"""Signed tokens, one service per purpose (confirm, unsubscribe, preferences, form stamps).

Each purpose has its own salt and maximum age, and the payload carries an `a` (action) claim
that is checked on load, so a token made for one purpose never works for another. Signing uses
the newest `SECRET_KEY`; every key in the list still verifies (rotation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

PURPOSES = {"confirm", "unsubscribe", "preferences", "form"}


class TokenInvalid(Exception):
    """The token was tampered with, cut, or made for another purpose."""


class TokenExpired(TokenInvalid):
    """The token is authentic but older than its purpose allows; `payload` says whose it was."""

    def __init__(self, payload: dict[str, Any] | None):
        super().__init__("token expired")
        self.payload = payload


class TokenService:
    """Makes and checks tokens for one purpose."""

    def __init__(self, secret_keys: Sequence[str], purpose: str, max_age: int | None = None):
        if purpose not in PURPOSES:
            raise ValueError(f"unknown token purpose {purpose!r}")
        self.purpose = purpose
        self.max_age = max_age
        # itsdangerous signs with the last key and verifies with all; ours are newest first.
        self._serializer = URLSafeTimedSerializer(
            list(reversed(secret_keys)), salt=f"newsletter-service.{purpose}"
        )

    @property
    def serializer(self) -> URLSafeTimedSerializer:
        """The itsdangerous serializer behind this purpose (read-only use: minting in bulk)."""
        return self._serializer

    def dumps(self, payload: dict[str, Any]) -> str:
        """Sign `payload` for this purpose."""
        return self._serializer.dumps({**payload, "a": self.purpose})

    def loads(self, token: str) -> dict[str, Any]:
        """Verify `token` and return its payload; raise TokenExpired or TokenInvalid."""
        try:
            data = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired as exc:
            try:
                payload = self._serializer.load_payload(exc.payload)
            except BadSignature:
                payload = None
            payload = payload if isinstance(payload, dict) else None
            if payload is None or payload.get("a") != self.purpose:
                raise TokenInvalid("wrong purpose") from exc
            raise TokenExpired(payload) from exc
        except (BadSignature, UnicodeError, ValueError) as exc:
            raise TokenInvalid(str(exc)) from exc
        if not isinstance(data, dict) or data.get("a") != self.purpose:
            raise TokenInvalid("wrong purpose")
        return data


def token_service(purpose: str) -> TokenService:
    """The token service for `purpose`, configured from the current app."""
    config = current_app.config
    max_age = config["CONFIRM_TOKEN_MAX_AGE"] if purpose == "confirm" else None
    return TokenService(config["SECRET_KEYS"], purpose, max_age)
