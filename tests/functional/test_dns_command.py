"""`newsletter dns`: the records to publish, checked against a stand-in DNS server on loopback."""

from __future__ import annotations

import re
import time

import pytest

from service.mail import dkim
from service.mail.dns_records import chunks
from tests.support.dkim_keys import DOMAIN, SELECTOR, dkim_config, rsa_pem
from tests.support.dns_server import DNSServer

BOUNCES = "bounces.news.example.org"


@pytest.fixture
def dns_app(sqlite_app_with):
    def make(**overrides):
        settings = {**dkim_config(), "BOUNCE_DOMAIN": BOUNCES, "DNS_TIMEOUT": "0.5", **overrides}
        return sqlite_app_with(**settings)

    return make


def run(app, *args):
    with app.app_context():  # the command runs in the current app's context
        return app.test_cli_runner().invoke(args=["dns", *args])


def published(app) -> dict[tuple[str, str], list[str]]:
    """What a publisher who copied every printed line into the zone serves."""
    table = {}
    for line in run(app, "--no-check").output.splitlines():
        match = re.fullmatch(r"(\S+)\. IN (TXT|MX) (.*)", line)
        if match and match[2] == "TXT":
            table[(match[1], "TXT")] = [match[3]]
    table[(BOUNCES, "MX")] = ["10 mx.news.example.org."]
    return table


def test_the_records_to_publish(dns_app):
    app = dns_app()
    result = run(app, "--no-check")
    assert result.exit_code == 0, result.output
    with app.app_context():
        keys = dkim.signer().keys
    lines = result.output.splitlines()
    for key in keys:
        [line] = [x for x in lines if x.startswith(f"{key.selector}._domainkey.{DOMAIN}. IN TXT")]
        strings = re.findall(r'"([^"]*)"', line)
        assert all(len(s) <= 255 for s in strings) and "".join(strings) == key.txt_record()
    rsa_line = next(x for x in lines if x.startswith(f"{SELECTOR}._domainkey"))
    assert len(re.findall(r'"([^"]*)"', rsa_line)) > 1  # a 2048-bit key needs two strings
    assert f'{BOUNCES}. IN TXT "v=spf1' in result.output  # SPF checks the envelope's domain
    assert f'_dmarc.{DOMAIN}. IN TXT "v=DMARC1; p=none; rua=mailto:' in result.output
    assert f"{BOUNCES}. IN MX 10 " in result.output
    assert "warning" not in result.output


def test_published_records_match(dns_app):
    app = dns_app()
    with DNSServer(published(app)) as server:
        app.config["DNS_RESOLVER"] = server.address
        result = run(app)
    assert result.exit_code == 0, result.output
    assert result.output.count(";   match") == 2  # the RSA and the Ed25519 key
    assert result.output.count(";   published") == 3  # SPF, DMARC, MX
    assert (f"{SELECTOR}._domainkey.{DOMAIN}", "TXT") in server.questions


def test_an_old_key_in_dns_is_a_mismatch_and_nothing_published_is_missing(dns_app):
    app = dns_app(DKIM_ED25519_PRIVATE_KEY="")
    table = published(app)
    old = dkim.load_key(SELECTOR, rsa_pem(3072), "rsa").txt_record()
    table[(f"{SELECTOR}._domainkey.{DOMAIN}", "TXT")] = [" ".join(f'"{c}"' for c in chunks(old))]
    del table[(f"_dmarc.{DOMAIN}", "TXT")]
    with DNSServer(table) as server:
        app.config["DNS_RESOLVER"] = server.address
        result = run(app)
    assert result.exit_code == 1
    assert ";   MISMATCH: v=DKIM1; k=rsa; p=" in result.output
    assert ";   MISSING" in result.output


def test_dns_that_does_not_answer_is_said_quickly(dns_app):
    app = dns_app()
    with DNSServer({}, silent=True) as server:
        app.config["DNS_RESOLVER"] = server.address
        started = time.monotonic()
        result = run(app)
    assert result.exit_code == 0, result.output
    assert result.output.count("not checked (DNS unreachable)") == 5
    assert time.monotonic() - started < 15  # 5 lookups of DNS_TIMEOUT=0.5 s, on a busy machine


def test_a_domain_that_does_not_align_with_from_is_warned_about(dns_app):
    result = run(
        dns_app(DKIM_DOMAIN="esp.example.net", BOUNCE_DOMAIN="b.esp.example.net"), "--no-check"
    )
    assert "warning: DKIM_DOMAIN=esp.example.net does not align" in result.output
    assert "warning: BOUNCE_DOMAIN=b.esp.example.net does not align" in result.output


def test_without_dkim_it_says_how_to_start(sqlite_app_with):
    result = run(sqlite_app_with(), "--no-check")
    assert result.exit_code == 0
    assert "DKIM is not configured" in result.output and "rsa_keygen_bits:2048" in result.output
    assert "_domainkey" not in result.output and "v=spf1" in result.output
