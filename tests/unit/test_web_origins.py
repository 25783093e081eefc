"""Origins as browsers send them: what an allowlist entry becomes, and what it may not be."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.config import ConfigError, load_settings
from service.web_origins import normalize_origin


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://News.Example.org", "https://news.example.org"),
        (" https://news.example.org/ ", "https://news.example.org"),
        ("http://localhost:8080", "http://localhost:8080"),
    ],
)
def test_normalize_origin_gives_scheme_host_and_port(value, origin):
    assert normalize_origin(value) == origin


@pytest.mark.parametrize(
    "value",
    [
        "*",
        "news.example.org",
        "ftp://news.example.org",
        "https://news.example.org/path",
        "https://news.example.org?q=1",
        "https://user:pw@news.example.org",
        "https://news.example.org#top",
        "https://news.example.org:99999",
        "https://",
        None,
        ["https://a.org"],
    ],
)
def test_normalize_origin_refuses_anything_but_an_origin(value):
    with pytest.raises(ValueError):
        normalize_origin(value)


@pytest.mark.parametrize(
    ("written", "origin"),
    [
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://[2001:DB8::1]", "https://[2001:db8::1]"),
        ("https://news.example.org:443", "https://news.example.org"),
        ("http://news.example.org:80/", "http://news.example.org"),
        ("http://news.example.org:443", "http://news.example.org:443"),
        ("https://Новини.Приклад.укр", "https://xn--b1amarcd.xn--80aikifvh.xn--j1amh"),
    ],
)
def test_an_origin_is_written_as_a_browser_sends_it(written, origin):
    """Brackets kept, default port dropped, punycode: else no Origin header could match."""
    assert normalize_origin(written) == origin
    assert normalize_origin(origin) == origin


@pytest.mark.parametrize("value", ["https://news.example.org:0", "https://новини..укр"])
def test_an_origin_no_browser_could_send_is_refused(value):
    with pytest.raises(ValueError):
        normalize_origin(value)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60),
        st.builds(
            "{}://{}{}".format,
            st.sampled_from(["http", "https", "HTTPS", "ftp"]),
            st.from_regex(r"[A-Za-z0-9.-]{1,20}(:[0-9]{1,5})?", fullmatch=True),
            st.sampled_from(["", "/", "/x", "?q", "#f"]),
        ),
    )
)
def test_normalize_origin_gives_an_origin_or_a_value_error(text):
    try:
        origin = normalize_origin(text)
    except ValueError:
        return
    parts = urlsplit(origin)
    assert parts.scheme in ("http", "https") and parts.hostname
    assert (parts.path, parts.query, parts.fragment, parts.username) == ("", "", "", None)
    assert origin == origin.lower()
    assert normalize_origin(origin) == origin  # normal already


def test_allowed_origins_in_the_environment_are_kept_as_browsers_send_them(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("ALLOWED_ORIGINS", " https://News.Example.org:443/ ,*,https://[::1]:8443")
    assert load_settings()["ALLOWED_ORIGINS"] == [
        "https://news.example.org",
        "*",
        "https://[::1]:8443",
    ]


def test_a_mistyped_allowed_origin_stops_the_start_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://news.example.org,news.example.org")
    with pytest.raises(ConfigError, match=r"ALLOWED_ORIGINS: 'news.example.org' is not an origin"):
        load_settings()
