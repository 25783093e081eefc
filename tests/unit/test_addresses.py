"""Tests for service.addresses: the email address acceptance policy and the typo suggester."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.addresses import (
    PROVIDERS,
    Address,
    InvalidEmail,
    parse_address,
    parse_signup_address,
    reader_key,
    suggest_correction,
)
from tests.support.spellings import spellings_of

# Vendored with its licence (tests/data/isemail-LICENSE.md): the suite needs nothing beside the repo.
ISEMAIL_PATH = Path(__file__).resolve().parents[1] / "data" / "isemail-tests.json"
CONTRACT_FAMILIES = ("ISEMAIL_ERR", "ISEMAIL_CFWS", "ISEMAIL_DEPREC", "ISEMAIL_RFC5322")
# " test@iana.org" and "test@iana.org " (ISEMAIL_CFWS_FWS): the contract also says surrounding
# spaces are trimmed, and trimmed they are a plain valid address.
TRIMMED_BY_POLICY = {157, 158}


def _isemail_cases() -> list[dict]:
    if not ISEMAIL_PATH.is_file():  # test_isemail_suite_is_present fails loudly in that case
        return []
    return json.loads(ISEMAIL_PATH.read_text(encoding="utf-8"))["tests"]


ISEMAIL = _isemail_cases()
CONTRACT_REJECTS = [c for c in ISEMAIL if c["category"].startswith(CONTRACT_FAMILIES)]


def _params(cases: list[dict]) -> list:
    return [pytest.param(c, id=f"isemail-{c['id']}") for c in cases]


def _reason(raw: object, **kwargs: bool) -> str:
    with pytest.raises(InvalidEmail) as info:
        parse_address(raw, **kwargs)
    return info.value.reason


# --- the public isemail suite ------------------------------------------------------------------


def test_isemail_suite_is_present() -> None:
    assert ISEMAIL_PATH.is_file(), f"missing {ISEMAIL_PATH}: the vendored isemail suite"
    assert len(ISEMAIL) == 164
    assert len(CONTRACT_REJECTS) == 126
    assert {c["id"] for c in CONTRACT_REJECTS} >= TRIMMED_BY_POLICY


@pytest.mark.parametrize(
    "case", _params([c for c in CONTRACT_REJECTS if c["id"] not in TRIMMED_BY_POLICY])
)
def test_isemail_contract_cases_are_rejected(case: dict) -> None:
    with pytest.raises(InvalidEmail):
        parse_address(case["address"], allow_smtputf8=True)


@pytest.mark.parametrize("case", _params([c for c in ISEMAIL if c["id"] in TRIMMED_BY_POLICY]))
def test_isemail_surrounding_space_cases_are_trimmed(case: dict) -> None:
    assert case["address"] != case["address"].strip(" ")
    assert parse_address(case["address"]).display == "test@iana.org"


@pytest.mark.parametrize(
    "case", _params([c for c in ISEMAIL if c["category"] == "ISEMAIL_RFC5321"])
)
def test_isemail_rfc5321_cases_are_rejected_by_policy(case: dict) -> None:
    # Quoted local parts, address literals, dotless and numeric TLDs: valid SMTP, not for us.
    with pytest.raises(InvalidEmail):
        parse_address(case["address"], allow_smtputf8=True)


# Valid per isemail but not deliverable in practice: a dotless domain and a retired test TLD.
ISEMAIL_VALID_REJECTED = {5: "dotless_domain", 100: "reserved_domain"}
# DNS warnings in isemail; one-letter and hyphenated TLDs do not exist.
ISEMAIL_DNSWARN_REJECTED = {13: "invalid_tld", 33: "invalid_tld", 37: "invalid_tld"}


@pytest.mark.parametrize(
    "case",
    _params([c for c in ISEMAIL if c["category"] in ("ISEMAIL_VALID_CATEGORY", "ISEMAIL_DNSWARN")]),
)
def test_isemail_valid_and_dnswarn_cases(case: dict) -> None:
    expected = {**ISEMAIL_VALID_REJECTED, **ISEMAIL_DNSWARN_REJECTED}.get(case["id"])
    if expected is None:
        assert parse_address(case["address"]).display == case["address"]
    else:
        assert _reason(case["address"]) == expected


# --- ordinary addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "ivan@gmail.com",
        "olena.kovalenko+news@ukr.net",
        "first_last-1990@i.ua",
        "x@kyivindependent.com",
        "o'brien@example.ie",
        "test@sub.domain.co.uk",
        "user@gmx.net",
        "a@b.io",
        "user@notexample.com",
        "user@example.co.uk",
    ],
)
def test_ordinary_addresses_are_accepted(raw: str) -> None:
    address = parse_address(raw)
    assert address == Address(display=raw, ascii=raw, key=raw.lower(), smtputf8=False)


def test_display_keeps_case_key_is_lower_and_domain_is_normalised() -> None:
    address = parse_address("Ivan.Petrenko@Gmail.COM")
    assert address.display == "Ivan.Petrenko@Gmail.COM"
    assert address.ascii == "Ivan.Petrenko@gmail.com"
    assert address.key == "ivan.petrenko@gmail.com"
    assert parse_address("IVAN.PETRENKO@gmail.com").key == address.key


def test_address_is_frozen_with_slots() -> None:
    address = parse_address("a@b.com")
    with pytest.raises(dataclasses.FrozenInstanceError):
        address.key = "x"  # type: ignore[misc]
    assert not hasattr(address, "__dict__")


# --- trimming and control characters -----------------------------------------------------------


@pytest.mark.parametrize("raw", [" a@b.com", "a@b.com ", "\ta@b.com\t", " \t a@b.com \t "])
def test_surrounding_spaces_and_tabs_are_trimmed(raw: str) -> None:
    address = parse_address(raw)
    assert address.display == "a@b.com"
    assert address.ascii == "a@b.com"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("a@b.com\r\nBcc: x@y.com", id="crlf-bcc-injection"),
        pytest.param("a@b.com\nBcc: x@y.com", id="lf-bcc-injection"),
        pytest.param("a@b.com\r\n", id="trailing-crlf"),
        pytest.param("a@b.com\n", id="trailing-lf-not-trimmed"),
        pytest.param("\ra@b.com", id="leading-cr"),
        pytest.param("a\x00@b.com", id="nul"),
        pytest.param("a@b.com\x00", id="trailing-nul"),
        pytest.param("a\t@b.com", id="tab-in-local"),
        pytest.param("a@b.\tcom", id="tab-in-domain"),
        pytest.param("a\x7f@b.com", id="del"),
        pytest.param("a\x1b@b.com", id="escape"),
        pytest.param("a\u200b@b.com", id="zero-width-space"),
        pytest.param("a@b\u00adc.com", id="soft-hyphen-idna-would-drop"),
        pytest.param("\ufeffa@b.com", id="bom"),
        pytest.param("a\u202e@b.com", id="right-to-left-override"),
    ],
)
def test_control_characters_anywhere_are_rejected(raw: str) -> None:
    assert _reason(raw, allow_smtputf8=True) == "control_character"


@pytest.mark.parametrize("raw", ["a@b.com\u2028", "a\u00a0b@c.com", "a\ue000@b.com"])
def test_other_invisible_characters_are_rejected(raw: str) -> None:
    assert _reason(raw, allow_smtputf8=True) == "invalid_character"


@pytest.mark.parametrize(
    "raw",
    [
        "a@b.com\r\nBcc: x@y.com",
        "a@b.com%0d%0aBcc: x@y.com",
        "a@b.com>\r\nBcc: <x@y.com",
        "a@b.com,x@y.com",
        "a@b.com x@y.com",
        "Ivan <a@b.com>",
    ],
)
def test_header_injection_and_lists_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidEmail):
        parse_address(raw, allow_smtputf8=True)


@pytest.mark.parametrize("raw", [None, 42, b"a@b.com", ["a@b.com"], {"email": "a@b.com"}])
def test_non_string_input_is_rejected(raw: object) -> None:
    assert _reason(raw) == "not_a_string"


@pytest.mark.parametrize("raw", ["", "   ", "\t \t"])
def test_empty_input_is_rejected(raw: str) -> None:
    assert _reason(raw) == "empty"


# --- lengths -----------------------------------------------------------------------------------


def test_local_part_of_64_octets_is_accepted_65_rejected() -> None:
    assert parse_address("a" * 64 + "@b.com").ascii == "a" * 64 + "@b.com"
    assert _reason("a" * 65 + "@b.com") == "local_part_too_long"


def test_local_part_limit_counts_utf8_octets_not_characters() -> None:
    assert parse_address("é" * 32 + "@b.com", allow_smtputf8=True).smtputf8  # 64 octets
    assert _reason("é" * 33 + "@b.com", allow_smtputf8=True) == "local_part_too_long"  # 66


def test_local_part_limit_applies_to_the_normalised_form() -> None:
    # U+0958 is 3 octets but NFC turns it into two characters of 3 octets each: 60 -> 120.
    assert _reason("\u0958" * 20 + "@b.com", allow_smtputf8=True) == "local_part_too_long"


def _address_of_length(total: int) -> str:
    # 64 + "@" + three 63-octet-or-less labels + ".com"
    domain = "a" * 63 + "." + "b" * 63 + "." + "c" * (total - 65 - 63 - 1 - 63 - 1 - 4) + ".com"
    address = "l" * 64 + "@" + domain
    assert len(address) == total
    return address


def test_address_of_254_octets_is_accepted_255_rejected() -> None:
    assert len(parse_address(_address_of_length(254)).ascii) == 254
    assert _reason(_address_of_length(255)) == "too_long"


def test_total_length_counts_the_idna_form() -> None:
    # Each "é" label is 2 octets typed but 7 ("xn--9ca") as sent.
    fits = "a" * 10 + "@" + ".".join(["é"] * 30) + ".com"
    assert len(fits.encode()) < 120
    assert len(parse_address(fits).ascii) == 254
    assert _reason("a" * 10 + "@" + ".".join(["é"] * 31) + ".com") == "too_long"


def test_huge_input_is_rejected_quickly() -> None:
    assert _reason("a" * 100_000 + "@b.com") == "too_long"


# --- forbidden forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ['"john doe"@gmail.com', '"a"@b.com', '"a@b"@c.com', 'a."b".c@d.com', '"\\"@b.com']
)
def test_quoted_local_parts_are_rejected(raw: str) -> None:
    assert _reason(raw, allow_smtputf8=True) == "quoted_local_part"


@pytest.mark.parametrize(
    "raw", ["(note)a@b.com", "a(note)@b.com", "a@(note)b.com", "a@b.com(note)", "a@b.com (x)"]
)
def test_comments_are_rejected(raw: str) -> None:
    assert _reason(raw) == "comment"


@pytest.mark.parametrize(
    "raw", ["a@[127.0.0.1]", "a@[IPv6:2001:db8::1]", "a@[IPv6:::1]", "a@[tag:text]"]
)
def test_ip_literal_domains_are_rejected(raw: str) -> None:
    assert _reason(raw) == "domain_literal"


@pytest.mark.parametrize("raw", ["a@127.0.0.1", "a@1.2.3.4.5"])
def test_bare_ip_addresses_are_rejected(raw: str) -> None:
    assert _reason(raw) == "invalid_tld"


@pytest.mark.parametrize("raw", ["test@io", "a@com", "a@localhost", "a@пример"])
def test_dotless_domains_are_rejected(raw: str) -> None:
    assert _reason(raw) == "dotless_domain"


@pytest.mark.parametrize(
    "raw",
    [
        "a@foo.localhost",
        "a@site.test",
        "a@x.invalid",
        "a@www.example",
        "a@example.com",
        "a@EXAMPLE.net",
        "a@mail.example.org",
        "a@printer.local",
        "a@duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion",
        "a@1.168.192.in-addr.arpa",
        "a@router.home.arpa",
        "a@x.alt",
        "a@db.internal",
        "a@nas.lan",
        "a@пример.испытание",
    ],
)
def test_special_use_and_reserved_domains_are_rejected(raw: str) -> None:
    assert _reason(raw) == "reserved_domain"


@pytest.mark.parametrize("raw", ["a@iana.a", "a@iana.co-uk", "a@iana.123", "a@shop.con", "a@x.cmo"])
def test_tlds_that_cannot_exist_are_rejected(raw: str) -> None:
    assert _reason(raw) == "invalid_tld"


@pytest.mark.parametrize(
    "raw", ["", "@b.com", "a@", "a@@b.com", ".a@b.com", "a.@b.com", "a..b@c.com", "a@-b.com"]
)
def test_malformed_addresses_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidEmail):
        parse_address(raw)


def test_missing_at_sign_has_its_own_reason() -> None:
    assert _reason("ivan.gmail.com") == "missing_at_sign"


# --- internationalized addresses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "ascii"),
    [
        ("user@пример.укр", "user@xn--e1afmkfd.xn--j1amh"),
        ("User@Bücher.DE", "User@xn--bcher-kva.de"),
        ("user@xn--e1afmkfd.xn--j1amh", "user@xn--e1afmkfd.xn--j1amh"),
    ],
)
def test_internationalized_domains_are_sent_as_idna(raw: str, ascii: str) -> None:
    address = parse_address(raw)
    assert address.display == raw
    assert address.ascii == ascii
    assert address.key == ascii.lower()
    assert address.smtputf8 is False


def test_non_ascii_local_part_needs_smtputf8() -> None:
    assert _reason("юзер@пример.укр") == "smtputf8_unsupported"
    address = parse_address("Юзер@пример.укр", allow_smtputf8=True)
    assert address.smtputf8 is True
    assert address.display == "Юзер@пример.укр"
    assert address.ascii == "Юзер@xn--e1afmkfd.xn--j1amh"
    assert address.key == "юзер@xn--e1afmkfd.xn--j1amh"


def test_ascii_local_part_does_not_need_smtputf8() -> None:
    assert parse_address("ivan@gmail.com", allow_smtputf8=True).smtputf8 is False


# --- typo suggestions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("ivan@gmial.com", "ivan@gmail.com"),
        ("ivan@gamil.com", "ivan@gmail.com"),
        ("ivan@gmaill.com", "ivan@gmail.com"),
        ("ivan@gmail.con", "ivan@gmail.com"),
        ("ivan@gmail.cmo", "ivan@gmail.com"),
        ("ivan@gmail.co", "ivan@gmail.com"),
        ("ivan@gmail.c0m", "ivan@gmail.com"),
        ("ivan@gmial.con", "ivan@gmail.com"),
        ("ivan@gmail", "ivan@gmail.com"),
        ("ivan@gmailcom", "ivan@gmail.com"),
        ("ivan@gmail,com", "ivan@gmail.com"),
        ("ivan@gmail.com.", "ivan@gmail.com"),
        ("ivan@hotmial.com", "ivan@hotmail.com"),
        ("ivan@hotmial.con", "ivan@hotmail.com"),
        ("ivan@yaho.com", "ivan@yahoo.com"),
        ("ivan@outlok.com", "ivan@outlook.com"),
        ("ivan@icoud.com", "ivan@icloud.com"),
        ("ivan@gogglemail.com", "ivan@googlemail.com"),
        ("ivan@protn.me", "ivan@proton.me"),
        ("ivan@yandex.r", "ivan@yandex.ru"),
        ("ivan@ukr.nt", "ivan@ukr.net"),
        ("ivan@ukr.ne", "ivan@ukr.net"),
        ("ivan@gmx.d", "ivan@gmx.de"),
        ("ivan@GMIAL.COM", "ivan@gmail.com"),
        ("Ivan.Petrenko@gmial.com", "Ivan.Petrenko@gmail.com"),
        (" ivan@gmial.com\t", "ivan@gmail.com"),
    ],
)
def test_suggestions_for_likely_typos(typed: str, suggested: str) -> None:
    assert suggest_correction(typed) == suggested


@pytest.mark.parametrize(
    "typed",
    [
        "ivan@gmail.com",
        "IVAN@GMAIL.COM",
        "ivan@ukr.net",
        "ivan@i.ua",
        "ivan@gmx.de",
        "ivan@gmx.net",
        "ivan@gmx.at",
        "ivan@mail.com",
        "ivan@email.com",
        "ivan@ymail.com",
        "ivan@cloud.com",
        "ivan@mac.com",
        "ivan@ukr.com",
        "ivan@yandex.ua",
        "ivan@yandex.com",
        "ivan@mail.ua",
        "ivan@protonmail.ch",
        "ivan@pm.me",
        "ivan@hotmail.co.uk",
        "ivan@yahoo.co.jp",
        "ivan@ms.com",
        "ivan@ge.com",
        "ivan@love.com",
        "ivan@i.us",
        "ivan@mail.gmail.com",
        "ivan@kyivindependent.com",
        "ivan@пример.укр",
        "no-at-sign",
        "@gmial.com",
        "ivan@",
    ],
)
def test_no_suggestion_for_real_or_unrelated_domains(typed: str) -> None:
    assert suggest_correction(typed) is None


@pytest.mark.parametrize(
    ("typed", "reason", "suggested"),
    [
        ("Ivan@gmail", "dotless_domain", "Ivan@gmail.com"),
        ("Ivan@gmail.con", "invalid_tld", "Ivan@gmail.com"),
        ("Ivan@gmail.co", "domain_typo", "Ivan@gmail.com"),
        ("Ivan@gmail.cm", "domain_typo", "Ivan@gmail.com"),
        ("Ivan@ukr.nt", "domain_typo", "Ivan@ukr.net"),
        ("Ivan@hotmial.con", "invalid_tld", "Ivan@hotmail.com"),
        ("Ivan@gmail,com", "invalid_syntax", "Ivan@gmail.com"),
        (" Ivan@gmail.c ", "invalid_tld", "Ivan@gmail.com"),
    ],
)
def test_rejections_carry_the_suggestion(typed: str, reason: str, suggested: str) -> None:
    with pytest.raises(InvalidEmail) as info:
        parse_address(typed)
    assert (info.value.reason, info.value.suggestion) == (reason, suggested)
    assert parse_address(suggested).display == suggested.strip()


def test_misspelt_provider_with_a_real_tld_is_accepted_with_a_hint() -> None:
    assert parse_address("ivan@gmial.com").ascii == "ivan@gmial.com"
    assert suggest_correction("ivan@gmial.com") == "ivan@gmail.com"


@pytest.mark.parametrize(
    ("typed", "kwargs"),
    [
        ('"iv an"@gmail.con', {}),  # the corrected address would still be quoted
        ("юзер@gmail", {}),  # would still need SMTPUTF8
        ("iv\x00an@gmail.con", {"allow_smtputf8": True}),
        ("ivan@example.com", {}),
        ("ivan@kyiv", {}),
    ],
)
def test_no_suggestion_that_would_itself_be_rejected(typed: str, kwargs: dict) -> None:
    with pytest.raises(InvalidEmail) as info:
        parse_address(typed, **kwargs)
    assert info.value.suggestion is None


def test_suggestion_respects_smtputf8() -> None:
    with pytest.raises(InvalidEmail) as info:
        parse_address("юзер@gmail", allow_smtputf8=True)
    assert info.value.suggestion == "юзер@gmail.com"


# --- the exception -----------------------------------------------------------------------------


def test_invalid_email_is_a_value_error_that_pickles() -> None:
    error = InvalidEmail("domain_typo", "ivan@gmail.com")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 -- our own bytes; task queues pickle
    assert (copy.reason, copy.suggestion) == ("domain_typo", "ivan@gmail.com")
    assert InvalidEmail("empty").suggestion is None
    assert str(InvalidEmail("empty")) == "empty"


# --- the signup's typo check (a likely typo needs the reader's word) ---------------------------

LIKELY_TYPOS = [
    ("someone@gmial.com", "someone@gmail.com"),
    ("someone@hotmial.com", "someone@hotmail.com"),
    ("someone@yahooo.com", "someone@yahoo.com"),
    ("Some.One@GMIAL.COM", "Some.One@gmail.com"),
    (" someone@outlok.com\t", "someone@outlook.com"),
]


@pytest.mark.parametrize(("typed", "suggested"), LIKELY_TYPOS)
def test_signup_refuses_a_likely_typo_with_its_fix(typed: str, suggested: str) -> None:
    with pytest.raises(InvalidEmail) as info:
        parse_signup_address(typed)
    assert (info.value.reason, info.value.suggestion) == ("likely_typo", suggested)


@pytest.mark.parametrize(("typed", "suggested"), LIKELY_TYPOS)
def test_signup_accepts_a_likely_typo_the_reader_confirmed(typed: str, suggested: str) -> None:
    address = parse_signup_address(typed, confirmed=True)
    assert address == parse_address(typed)
    assert parse_signup_address(suggested) == parse_address(suggested)


@pytest.mark.parametrize("typed", ["ivan@gmail.co", "ivan@gmail.con", "ivan@gmail"])
def test_confirming_does_not_make_an_unacceptable_address_acceptable(typed: str) -> None:
    with pytest.raises(InvalidEmail) as info:
        parse_signup_address(typed, confirmed=True)
    assert info.value.reason != "likely_typo" and info.value.suggestion == "ivan@gmail.com"


@pytest.mark.parametrize("typed", ["ivan@gmail.com", "ivan@kyivindependent.com", "ivan@ms.com"])
def test_signup_accepts_ordinary_addresses_without_confirmation(typed: str) -> None:
    assert parse_signup_address(typed) == parse_address(typed)


# Text near the providers' domains (where suggestions happen), and anything at all.
_ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.\"<>"
_NEAR_PROVIDER = st.builds(
    lambda local, provider, i, junk, cut: f"{local}@{provider[:i] + junk + provider[i + cut :]}",
    st.text(_ATEXT + "юä", min_size=0, max_size=12),
    st.sampled_from(PROVIDERS),
    st.integers(0, 14),
    st.text("abcdefghijklmnopqrstuvwxyz.,0 ", max_size=2),
    st.integers(0, 2),
)
_ANY_TEXT = st.text(max_size=80) | st.builds(
    "{}@{}".format, st.text(max_size=20), st.text(max_size=20)
)


@settings(max_examples=600, deadline=None)
@given(raw=_NEAR_PROVIDER | _ANY_TEXT, utf8=st.booleans(), confirmed=st.booleans())
def test_every_suggestion_is_an_acceptable_different_address(
    raw: str, utf8: bool, confirmed: bool
) -> None:
    try:
        parse_signup_address(raw, allow_smtputf8=utf8, confirmed=confirmed)
    except InvalidEmail as exc:
        suggestion = exc.suggestion
    else:
        return
    if suggestion is None:
        return
    # The fix needs no confirmation of its own: taking it is always accepted.
    fixed = parse_signup_address(suggestion, allow_smtputf8=utf8)
    assert suggestion.strip(" \t") != raw.strip(" \t")
    try:
        typed_key = parse_address(raw, allow_smtputf8=utf8).key
    except InvalidEmail:
        typed_key = None
    assert fixed.key != typed_key


@settings(max_examples=200)
@given(spellings_of("olena.k@gmail.com"))
def test_every_spelling_of_a_reader_has_that_readers_key(typed):
    assert parse_address(typed).key == "olena.k@gmail.com"


@settings(max_examples=100)
@given(spellings_of("olena.k@gmail.com"))
def test_the_rate_limits_key_is_the_readers(typed):
    assert reader_key(typed) == "olena.k@gmail.com"


@pytest.mark.parametrize("raw", [None, 7, "", "not an address", "x@gmail.co", "a" * 300])
def test_no_reader_key_for_what_is_no_address(raw):
    assert reader_key(raw) is None


@settings(max_examples=200)
@given(spellings_of("olena.k@gmail.com"))
def test_a_reader_signs_up_in_any_spelling_of_a_big_providers_domain(typed):
    assert parse_signup_address(typed).key == "olena.k@gmail.com"  # no "did you mean"
