"""Where a webhook may go: http(s) URLs only, public addresses only unless allowed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.webhooks.endpoints import InvalidEndpoint, check_url
from service.webhooks.network import InvalidUrl, is_public, parse_url


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104 (an address refused, not one bound)
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4 loopback written as IPv6
        "::ffff:10.0.0.1",
    ],
)
def test_private_loopback_and_link_local_addresses_are_not_public(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_internet_addresses_are_public(address):
    assert is_public(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.8/x",
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://0x7f.1/",
    ],
)
def test_a_private_endpoint_is_refused_by_default(unit_app, url):
    assert unit_app.config["WEBHOOK_ALLOW_PRIVATE"] is False
    with pytest.raises(InvalidEndpoint) as refused:
        check_url(url)
    assert refused.value.code in {"private_address", "invalid_url"}
    assert refused.value.field == "url"


def test_a_private_endpoint_is_refused_naming_the_setting(unit_app):
    with pytest.raises(InvalidEndpoint) as refused:
        check_url("http://127.0.0.1:9/hook")
    assert refused.value.code == "private_address"
    assert "WEBHOOK_ALLOW_PRIVATE" in refused.value.message


def test_the_setting_allows_private_endpoints(unit_app):
    unit_app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    assert check_url("http://127.0.0.1:9/hook") == "http://127.0.0.1:9/hook"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.org/x", "http(s)"),
        ("https://user:pass@example.org/x", "user name"),
        ("https://example.org/x#frag", "fragment"),
        ("https://example.org/a b", "spaces"),
        ("https://example.org/\r\nX-Evil: 1", "control"),
        ("https://пример.укр/x", "ASCII"),
        ("https:///nohost", "host"),
        ("https://example.org:99999/", "cannot be read"),
        ("https://" + "a" * 2000 + ".org/", "longer"),
        ("", "http(s)"),
    ],
)
def test_urls_that_are_no_webhook_address_are_refused_saying_why(url, why):
    with pytest.raises(InvalidUrl, match=why.replace("(", r"\(").replace(")", r"\)")):
        parse_url(url)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.from_regex(r"https?://[^/]{0,30}/.{0,40}")))
def test_any_text_is_either_refused_cleanly_or_a_plain_http_url(text):
    """Untrusted text: a clear `InvalidUrl` or an http(s) URL with a host and nothing that
    could split a request line or carry credentials."""
    try:
        parts = parse_url(text)
    except InvalidUrl:
        return
    assert parts.scheme in ("http", "https") and parts.hostname
    assert parts.username is None and parts.password is None and not parts.fragment
    assert text.isascii() and not any(ord(ch) < 33 or ord(ch) == 127 for ch in text)
