"""Email address acceptance policy: what a mail server will deliver to in practice.

One policy for every way an address comes in: a reader's signup, an import, a staff tool, a
header built from a stored address.

`parse_address` turns what a reader typed into an `Address` or raises `InvalidEmail` with a short
machine-readable `reason` (and a `suggestion` when the domain looks like a typo of a big provider).
Syntax is checked by email-validator (no DNS, strict mode, no quoted local parts, no domain
literals, no display names); this module adds what the policy forbids on top of it.

Decisions:

- Only spaces and tabs around the address are trimmed. Any Cc/Cf character left (CR, LF, NUL,
  DEL, an inner tab, zero-width joiners, bidi controls...) is `control_character`; other
  non-printable characters (line separators, unassigned, private-use) are `invalid_character`.
  So isemail's " test@iana.org" and "test@iana.org " (ISEMAIL_CFWS_FWS) are accepted once trimmed.
- A local part holding an RFC 2047 encoded word (`=?charset?q?text?=`) is `encoded_word`:
  parsers that decode encoded words inside addresses (Python's email package does) would
  read `=?utf-8?q?x=0D=0A?=@gmail.com` as another address. A bare `=?` (isemail's
  `!#$%&`*+/=?^`{|}~@iana.org`) is no encoded word and stays valid.
- Lengths are counted in UTF-8 octets: local part at most 64, `ascii` form at most 254.
- The domain needs a dot and a real-looking TLD: letters only and two or more of them, or an
  IDNA ("xn--") label, and not a common slip that is no TLD (`.con`, `.cmo`, `.nett`...). So
  `test@io`, `x@iana.a`, `x@iana.co-uk`, `x@iana.123` and `x@shop.con` are rejected.
- Reserved domains: email-validator's SPECIAL_USE_DOMAIN_NAMES plus `example`, `alt`
  (RFC 9476), `localdomain`, the private-use names of RFC 6762 appendix G and ICANN (`internal`,
  `intranet`, `private`, `corp`, `home`, `lan`), the retired IANA IDN test TLDs (e.g. `.δοκιμή`)
  and `example.com/.net/.org` with their subdomains.
- `ascii` is the NFC local part as email-validator returns it (RFC 2142 role names such as
  `Postmaster` come back lower-cased) + "@" + the lower-case IDNA domain. `key` is `ascii.lower()`:
  the reader, whatever spelling was typed (`reader_key`; full-width letters and ideographic
  full stops in the domain map to ASCII under IDNA's UTS #46 mapping).
- Typos: `suggest_correction` hints at a big provider's domain for near misses (`gmial.com`,
  `hotmial.con`, `gmail`). `parse_address` rejects (reason `domain_typo`) a provider's exact
  name with a slip in the TLD (`gmail.co`, `gmail.cm`, `ukr.nt`): no one receives mail there.
  (`gmail.con` is already `invalid_tld`.) A misspelt name with a real TLD (`gmial.com`) may be
  a real domain, so `parse_address` accepts it (imports, staff tools); a reader's own signup goes
  through `parse_signup_address`, which refuses it (reason `likely_typo`, with the fix) until
  the reader confirms the address is right. Names of four letters or
  fewer (`me`, `aol`, `gmx`, `live`, `mail`...) are only matched exactly, because their
  one-letter neighbours are real domains (`ms.com`, `love.com`, `mail.com`); for a two-letter
  provider TLD only a missing or cut-off TLD counts (`gmx.d`), because neighbouring two-letter
  TLDs are real country codes. Every suggestion attached to InvalidEmail is itself acceptable.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

# An RFC 2047 encoded word as mail parsers find one (the pattern of email.header's decoder).
ENCODED_WORD = re.compile(r"=\?[^?]*\?[bBqQ]\?.*?\?=", re.S)

MAX_LOCAL_OCTETS = 64
MAX_ADDRESS_OCTETS = 254

# fmt: off
RESERVED_TLDS = frozenset(SPECIAL_USE_DOMAIN_NAMES) | {
    "alt", "arpa", "corp", "example", "home", "internal", "intranet", "invalid", "lan", "local",
    "localdomain", "localhost", "onion", "private", "test",
    # IANA IDN test TLDs (2007-2013, now retired): "test" in eleven scripts.
    "xn--0zwm56d", "xn--11b5bs3a9aj6g", "xn--80akhbyknj4f", "xn--9t4b11yi5a", "xn--deba0ad",
    "xn--g6w251d", "xn--hgbk6aj7f53bba", "xn--hlcj6aya9esc7a", "xn--jxalpdlp", "xn--kgbechtv",
    "xn--zckzah",
}
RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
# Common slips for .com/.net/.org that are not TLDs (checked against the IANA root zone list).
BOGUS_TLDS = frozenset({
    "ccom", "cim", "clm", "cmo", "comm", "con", "coom", "cpm", "ocm", "vom", "xom",
    "ner", "nett", "nte", "ogr", "orgg", "rog",
})

PROVIDERS = (
    "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com",
    "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "ukr.net", "i.ua",
    "meta.ua", "gmx.com", "gmx.de", "yandex.ru", "mail.ru",
)
# Real mail domains that the typo rules would otherwise "correct" (or that look like they might).
NOT_TYPOS = frozenset({
    "mail.com", "email.com", "ymail.com", "rocketmail.com", "cloud.com", "mac.com", "msn.com",
    "gmx.net", "gmx.at", "gmx.ch", "pm.me", "protonmail.ch", "yandex.com", "ya.ru", "ukr.com",
})
# fmt: on
_KNOWN = frozenset(PROVIDERS) | NOT_TYPOS
_SPLIT_PROVIDERS = tuple(p.rpartition(".")[::2] for p in PROVIDERS)  # ("gmail", "com"), ...
_BY_NAME = {  # "gmx" -> [("gmx.com", "com"), ("gmx.de", "de")]
    name: [(p, t) for p, (n, t) in zip(PROVIDERS, _SPLIT_PROVIDERS, strict=True) if n == name]
    for name, _ in _SPLIT_PROVIDERS
}

_EV_REASONS = (  # email-validator message fragment -> reason; anything else is "invalid_syntax"
    ("special-use or reserved", "reserved_domain"),
    ("should have a period", "dotless_domain"),
    ("valid top-level domain", "invalid_tld"),
    ("too long", "too_long"),
)


@dataclass(frozen=True, slots=True)
class Address:
    """An acceptable address in the forms the service needs."""

    display: str  # as typed, surrounding spaces/tabs trimmed
    ascii: str  # local part + "@" + IDNA domain: what we send to
    key: str  # ascii.lower(): duplicate detection
    smtputf8: bool  # the local part is non-ASCII


class InvalidEmail(ValueError):
    """The address is not acceptable; `reason` says why, `suggestion` offers a likely fix."""

    def __init__(self, reason: str, suggestion: str | None = None):
        super().__init__(reason, suggestion)
        self.reason = reason
        self.suggestion = suggestion

    def __str__(self) -> str:
        return self.reason if self.suggestion is None else f"{self.reason} ({self.suggestion}?)"


def parse_address(raw: object, *, allow_smtputf8: bool = False) -> Address:
    """Validate `raw` against the policy; raise InvalidEmail (with a suggestion if any)."""
    if not isinstance(raw, str):
        raise InvalidEmail("not_a_string")
    text = raw.strip(" \t")
    address = _accepted(text, allow_smtputf8)
    if address is not None:
        return address
    try:
        return _parse(text, allow_smtputf8)
    except InvalidEmail as exc:
        if exc.suggestion is not None:
            raise
        suggestion = suggest_correction(raw)
        if suggestion is None or not _acceptable(suggestion, allow_smtputf8):
            raise
        raise InvalidEmail(exc.reason, suggestion) from exc


def reader_key(raw: object, *, allow_smtputf8: bool = False) -> str | None:
    """The reader `raw` names (`Address.key`: every spelling of one address gives the same),
    or None if it is no acceptable address. Limits on mail to a reader count on this.

    A request's rate-limit key and its validation parse the same text: the second is free.
    """
    if not isinstance(raw, str):
        return None
    address = _accepted(raw.strip(" \t"), allow_smtputf8)
    return None if address is None else address.key


@lru_cache(maxsize=1024)
def _cached(text: str, allow_smtputf8: bool) -> Address | None:
    try:
        return _parse(text, allow_smtputf8)
    except InvalidEmail:
        return None


def _accepted(text: str, allow_smtputf8: bool) -> Address | None:
    """`_parse` of an acceptable address (remembered for the recent ones), else None."""
    if len(text) > MAX_ADDRESS_OCTETS:  # too long anyway: never worth remembering
        return None
    return _cached(text, allow_smtputf8)


def parse_signup_address(
    raw: object, *, allow_smtputf8: bool = False, confirmed: bool = False
) -> Address:
    """`parse_address` for a reader's own signup: a likely typo of a big provider's domain
    (`gmial.com`) raises InvalidEmail("likely_typo", fix) unless the reader `confirmed` it.

    The fix is always an address this accepts unconfirmed, so taking it ends the exchange.
    """
    address = parse_address(raw, allow_smtputf8=allow_smtputf8)
    if confirmed:
        return address
    suggestion = suggest_correction(address.display)
    if suggestion is None or suggestion.rpartition("@")[2] == address.ascii.rpartition("@")[2]:
        return address  # no fix, or the same domain spelt otherwise (full width)
    if _acceptable(suggestion, allow_smtputf8):
        raise InvalidEmail("likely_typo", suggestion)
    return address


def suggest_correction(address: str) -> str | None:
    """Return the address with a big provider's domain if its domain looks like a typo of one."""
    local, at, domain = address.strip(" \t").rpartition("@")
    if not (local and at and domain):
        return None
    typed = domain.lower()
    cleaned = typed.replace(",", ".").strip(".")  # "gmail,com", "gmail.com."
    if cleaned in _KNOWN:
        return None if cleaned == typed else f"{local}@{cleaned}"
    provider = _closest_provider(cleaned)
    return None if provider is None else f"{local}@{provider}"


def _parse(text: str, allow_smtputf8: bool) -> Address:
    if not text:
        raise InvalidEmail("empty")
    if not text.isprintable():
        bad = any(unicodedata.category(c) in ("Cc", "Cf") for c in text)
        raise InvalidEmail("control_character" if bad else "invalid_character")
    if len(text.encode()) > MAX_ADDRESS_OCTETS:
        raise InvalidEmail("too_long")
    local, at, domain = text.rpartition("@")
    if '"' in local:
        raise InvalidEmail("quoted_local_part")
    if ENCODED_WORD.search(local):  # some mail parsers decode it even in an address
        raise InvalidEmail("encoded_word")
    if "(" in text or ")" in text:
        raise InvalidEmail("comment")
    if "[" in domain or "]" in domain:
        raise InvalidEmail("domain_literal")
    if not at:
        raise InvalidEmail("missing_at_sign")
    if len(local.encode()) > MAX_LOCAL_OCTETS:
        raise InvalidEmail("local_part_too_long")
    try:
        info = validate_email(
            text,
            allow_smtputf8=True,  # decided below, with its own reason
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            strict=True,
            check_deliverability=False,
        )
    except EmailNotValidError as exc:
        message = str(exc)
        reason = next((r for frag, r in _EV_REASONS if frag in message), "invalid_syntax")
        raise InvalidEmail(reason) from exc

    ascii_domain = info.ascii_domain
    labels = ascii_domain.split(".")
    tld = labels[-1]
    if len(labels) < 2:
        raise InvalidEmail("dotless_domain")
    if tld in RESERVED_TLDS or ".".join(labels[-2:]) in RESERVED_DOMAINS:
        raise InvalidEmail("reserved_domain")
    if tld in BOGUS_TLDS or not (tld.startswith("xn--") or (len(tld) >= 2 and tld.isalpha())):
        raise InvalidEmail("invalid_tld")
    if info.smtputf8 and not allow_smtputf8:
        raise InvalidEmail("smtputf8_unsupported")
    address = f"{info.local_part}@{ascii_domain}"
    if len(info.local_part.encode()) > MAX_LOCAL_OCTETS:
        raise InvalidEmail("local_part_too_long")
    if len(address.encode()) > MAX_ADDRESS_OCTETS:
        raise InvalidEmail("too_long")
    provider = _provider_with_tld_typo(ascii_domain)
    if provider is not None:
        raise InvalidEmail("domain_typo", f"{local}@{provider}")
    return Address(display=text, ascii=address, key=address.lower(), smtputf8=info.smtputf8)


def _acceptable(address: str, allow_smtputf8: bool) -> bool:
    try:
        _parse(address.strip(" \t"), allow_smtputf8)
    except InvalidEmail:
        return False
    return True


def _provider_with_tld_typo(domain: str) -> str | None:
    """The provider whose exact name `domain` has, with a slip in the TLD ("gmail.co")."""
    name, _, tld = domain.rpartition(".")
    if domain in _KNOWN:
        return None
    return next((p for p, ptld in _BY_NAME.get(name, ()) if _tld_typo(tld, ptld)), None)


@lru_cache(maxsize=4096)
def _closest_provider(domain: str) -> str | None:
    """The provider domain nearest to `domain` within the typo rules, or None."""
    if domain in _KNOWN:
        return None
    name, dot, tld = domain.rpartition(".")
    if not dot:
        name, tld = domain, ""
    best: tuple[int, int, str] | None = None
    for provider, (pname, ptld) in zip(PROVIDERS, _SPLIT_PROVIDERS, strict=True):
        if not tld and name == pname + ptld:  # "gmailcom"
            name_cost, tld_cost = 0, 1
        else:
            if tld == ptld:
                tld_cost = 0
            elif _tld_typo(tld, ptld):
                tld_cost = 1
            else:
                continue
            budget = 0 if len(pname) <= 4 else 1 if len(pname) <= 6 else 2
            if name == pname:
                name_cost = 0
            elif budget == 0 or abs(len(name) - len(pname)) > budget:
                continue
            else:
                name_cost = _distance(name, pname)
                if name_cost > budget:
                    continue
        candidate = (name_cost + tld_cost, name_cost, provider)  # ties: exact name, then order
        if candidate[0] <= 2 and (best is None or candidate[:2] < best[:2]):
            best = candidate
    return None if best is None else best[2]


def _one_edit_away(word: str) -> frozenset[str]:
    """Every [a-z0-9] string one deletion, insertion, substitution or transposition away."""
    chars = "abcdefghijklmnopqrstuvwxyz0123456789"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = {a + b[1:] for a, b in splits if b}
    edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    edits |= {a + c + b[1:] for a, b in splits if b for c in chars}
    edits |= {a + c + b for a, b in splits for c in chars}
    return frozenset(edits - {word})


_TLD_SLIPS = {t: _one_edit_away(t) for _, t in _SPLIT_PROVIDERS if len(t) >= 3}


def _tld_typo(tld: str, ptld: str) -> bool:
    """Missing or cut-off TLD, or one edit away from a 3+ letter one ("con", "cmo", "nt")."""
    return tld != ptld and (ptld.startswith(tld) or tld in _TLD_SLIPS.get(ptld, ()))


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent transpositions)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            cur.append(cost)
        prev2, prev = prev, cur
    return prev[-1]
