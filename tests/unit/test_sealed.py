"""Sealed secrets: ciphertext with a version prefix, one key per purpose, the newest key seals
and every listed key opens, and a value no key opens is `Unreadable` (never the secret)."""

from __future__ import annotations

import pytest

from service.sealed import PREFIX, TOTP, WEBHOOK, Sealer, Unreadable, is_sealed

OLD = "an old key that signed everything until today, 48 chars"
NEW = "the new key that seals from now on, also long enough...."
PLAIN = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_a_sealed_value_is_prefixed_ciphertext_that_opens_again():
    box = Sealer([NEW], TOTP)
    stored = box.seal(PLAIN)
    assert stored.startswith(PREFIX) and is_sealed(stored)
    assert PLAIN not in stored and PLAIN.lower() not in stored.lower()
    assert box.seal(PLAIN) != stored  # a fresh IV each time
    assert box.open(stored) == PLAIN


def test_each_purpose_has_its_own_key():
    stored = Sealer([NEW], TOTP).seal(PLAIN)
    with pytest.raises(Unreadable):
        Sealer([NEW], WEBHOOK).open(stored)


def test_after_a_rotation_the_old_key_opens_and_the_new_one_seals():
    before = Sealer([OLD], WEBHOOK).seal("whsec_old")
    rotated = Sealer([NEW, OLD], WEBHOOK)
    assert rotated.open(before) == "whsec_old"
    assert not rotated.is_current(before)
    after = rotated.seal("whsec_new")
    assert rotated.is_current(after)
    assert Sealer([NEW], WEBHOOK).open(after) == "whsec_new"  # the old key is not needed
    with pytest.raises(Unreadable):
        Sealer([OLD], WEBHOOK).open(after)


def test_a_value_no_key_opens_is_unreadable_and_the_message_holds_no_secret():
    stored = Sealer([OLD], TOTP).seal(PLAIN)
    with pytest.raises(Unreadable) as caught:
        Sealer([NEW], TOTP).open(stored)
    assert PLAIN not in str(caught.value) and stored not in str(caught.value)
    with pytest.raises(Unreadable):
        Sealer([OLD], TOTP).open(stored[:-4] + "AAAA")  # damaged


def test_a_plain_legacy_value_is_read_as_it_is_and_is_not_current():
    box = Sealer([NEW], TOTP)
    assert not is_sealed(PLAIN) and not is_sealed("") and not is_sealed(None)
    assert box.open(PLAIN) == PLAIN
    assert not box.is_current(PLAIN)


def test_a_sealer_needs_a_key_and_a_known_purpose():
    with pytest.raises(ValueError):
        Sealer([], TOTP)
    with pytest.raises(ValueError):
        Sealer([NEW], "passwords")
