"""Bulk-minted reader tokens are the very tokens TokenService makes, and verify as before."""

from __future__ import annotations

import pytest

from service.sending.signing import Minter
from service.tokens import TokenInvalid, TokenService

KEYS = ["newest-key", "older-key"]


@pytest.fixture
def frozen(monkeypatch) -> None:
    """Both sides sign at the same second."""
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: 1_750_000_000.5)


@pytest.mark.parametrize(
    "purpose, payload",
    [("unsubscribe", {"s": 1, "n": 2}), ("preferences", {"s": 123456789})],
)
def test_same_token_as_token_service(frozen, purpose, payload) -> None:
    service = TokenService(KEYS, purpose)
    assert Minter(service).dumps(payload) == service.dumps(payload)


def test_many_readers_with_one_minter(frozen) -> None:
    service = TokenService(KEYS, "unsubscribe")
    minter = Minter(service)
    for sid in range(0, 100_000, 997):
        assert minter.dumps({"s": sid, "n": 7}) == service.dumps({"s": sid, "n": 7})


def test_timestamp_follows_the_clock(monkeypatch) -> None:
    now = [1_750_000_000.0]
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: now[0])
    service = TokenService(KEYS, "preferences")
    minter = Minter(service)
    minter.dumps({"s": 1})
    now[0] += 5
    assert minter.dumps({"s": 1}) == service.dumps({"s": 1})


def test_minted_tokens_verify_and_keep_their_purpose() -> None:
    token = Minter(TokenService(KEYS, "unsubscribe")).dumps({"s": 5, "n": 1})
    assert TokenService(KEYS, "unsubscribe").loads(token) == {"s": 5, "n": 1, "a": "unsubscribe"}
    with pytest.raises(TokenInvalid):
        TokenService(KEYS, "preferences").loads(token)
    with pytest.raises(TokenInvalid):
        TokenService(["another-key"], "unsubscribe").loads(token)
