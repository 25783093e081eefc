"""The DNS records that let receivers trust this service's mail, and what is published.

`records(config)` lists what to publish: the DKIM key(s) as TXT at
`<selector>._domainkey.<DKIM_DOMAIN>` (split into strings of at most 255 characters, as a
TXT record requires), an SPF record for the envelope sender's domain (`BOUNCE_DOMAIN`, else
the From address's: SPF checks the MAIL FROM), a starting DMARC record (`p=none` with
aggregate reports, to watch before enforcing) and, with `BOUNCE_DOMAIN`, its MX (where
`newsletter bounces serve` listens). `check(record, ...)` asks DNS (dnspython, a short
timeout, `DNS_RESOLVER` or the system's resolver) and says match, mismatch, missing,
present (a hint whose exact value is the publisher's choice) or unreachable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dns.exception
import dns.resolver

from service.mail import dkim

MATCH, MISMATCH, MISSING, PRESENT, UNREACHABLE = (
    "match",
    "mismatch",
    "missing",
    "present",
    "unreachable",
)
CHUNK = 255  # the most one character-string of a TXT record holds


@dataclass(frozen=True)
class Record:
    """One record to publish: owner name, type, value, and whether DNS must hold exactly it."""

    name: str
    type: str
    value: str
    exact: bool  # a key must match; an SPF/DMARC/MX hint need only be there
    why: str

    def zone_line(self) -> str:
        """The record as a zone-file line (a long TXT in quoted 255-character strings)."""
        if self.type != "TXT":
            return f"{self.name}. IN {self.type} {self.value}"
        strings = " ".join(f'"{part}"' for part in chunks(self.value))
        return f"{self.name}. IN TXT {strings}"


def chunks(text: str, size: int = CHUNK) -> list[str]:
    """`text` in strings of at most `size` characters (a TXT record's character-strings)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _from_domain(config: Mapping[str, Any]) -> str:
    return str(config["MAIL_FROM"]).rpartition("@")[2].lower()


def records(config: Mapping[str, Any]) -> list[Record]:
    """What to publish for `config`'s DKIM keys, envelope and From domains."""
    out = []
    if config.get("DKIM_PRIVATE_KEY"):
        signer = dkim.Signer(config["DKIM_DOMAIN"], _keys(config))
        for key in signer.keys:
            name = f"{key.selector}._domainkey.{signer.domain}"
            out.append(Record(name, "TXT", key.txt_record(), True, f"DKIM key ({key.algorithm})"))
    envelope = config.get("BOUNCE_DOMAIN") or _from_domain(config)
    relay = urlsplit(str(config.get("MAIL_URL", ""))).hostname
    where = f"a:{relay}" if relay and relay not in ("localhost", "127.0.0.1", "::1") else "mx"
    out.append(Record(envelope, "TXT", f"v=spf1 {where} ~all", False, "SPF of the envelope sender"))
    domain = _from_domain(config)
    dmarc = f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}; adkim=r; aspf=r"
    out.append(Record(f"_dmarc.{domain}", "TXT", dmarc, False, "DMARC, to start (p=none)"))
    if config.get("BOUNCE_DOMAIN"):
        out.append(
            Record(
                config["BOUNCE_DOMAIN"],
                "MX",
                "10 <the host running newsletter bounces serve>.",
                False,
                "where bounce mail is delivered",
            )
        )
    return out


def _keys(config: Mapping[str, Any]) -> list[dkim.Key]:
    keys = [dkim.load_key(config["DKIM_SELECTOR"], config["DKIM_PRIVATE_KEY"], "rsa")]
    if config.get("DKIM_ED25519_PRIVATE_KEY"):
        selector = config["DKIM_ED25519_SELECTOR"]
        keys.append(dkim.load_key(selector, config["DKIM_ED25519_PRIVATE_KEY"], "ed25519"))
    return keys


def alignment_notes(config: Mapping[str, Any]) -> list[str]:
    """Warnings when DKIM's or the envelope's domain would not align with From (DMARC)."""
    domain, notes = _from_domain(config), []
    for setting, label in (("DKIM_DOMAIN", "DKIM"), ("BOUNCE_DOMAIN", "SPF")):
        other = config.get(setting)
        if other and not _aligned(domain, other):
            notes.append(
                f"{setting}={other} does not align with the From domain {domain}: DMARC "
                f"will not count {label}; use {domain} or a subdomain of it."
            )
    return notes


def _aligned(one: str, other: str) -> bool:
    """Relaxed alignment, approximately: one is the other or a subdomain of it."""
    return one == other or one.endswith("." + other) or other.endswith("." + one)


@dataclass(frozen=True)
class Checked:
    """What DNS answered for a record."""

    status: str
    published: str = ""


def resolver(address: str = "", timeout: float = 3.0) -> dns.resolver.Resolver:
    """A resolver with a short timeout; `address` (`ip` or `ip:port`) instead of the system's."""
    if not address:
        found = dns.resolver.Resolver()
    else:
        found = dns.resolver.Resolver(configure=False)
        host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
        found.nameservers = [host or address]
        found.port = int(port) if port else 53
    found.timeout = found.lifetime = timeout
    return found


def check(record: Record, ask: dns.resolver.Resolver) -> Checked:
    """Look `record` up and compare it with what is published."""
    try:
        answer = ask.resolve(record.name, record.type)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return Checked(MISSING)
    except (dns.exception.Timeout, dns.resolver.NoNameservers, OSError) as exc:
        return Checked(UNREACHABLE, type(exc).__name__)
    except dns.exception.DNSException as exc:
        return Checked(UNREACHABLE, type(exc).__name__)
    if record.type == "MX":
        return Checked(PRESENT, ", ".join(sorted(r.to_text() for r in answer)))
    texts = [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
    if record.exact:
        wanted = _tags(record.value)
        found = [t for t in texts if _tags(t).get("p") is not None]
        if any(
            _tags(t).get("p") == wanted["p"] and _tags(t).get("k", "rsa") == wanted["k"]
            for t in found
        ):
            return Checked(MATCH, record.value)
        return Checked(MISMATCH, found[0] if found else "; ".join(texts))
    prefix = record.value.split(";")[0].split(" ")[0].lower()  # v=spf1 / v=DMARC1
    matching = [t for t in texts if t.lower().startswith(prefix)]
    return Checked(PRESENT, matching[0]) if matching else Checked(MISSING, "; ".join(texts))


def _tags(text: str) -> dict[str, str]:
    """A DKIM record's tags, whitespace removed from each value."""
    tags = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = "".join(value.split())
    return tags
