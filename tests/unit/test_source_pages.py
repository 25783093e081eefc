"""Which page a signup counts under: scheme, host and path on an origin the newsletter allows,
never the query string or fragment; `other` for anything else a client may post; `direct`
without a page; and never more than a bounded length, whatever is posted."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.models.source_day import PAGE_MAX
from service.sources.pages import DIRECT, OTHER, own_origins, page_of

ORIGINS = own_origins(["https://news.example.org", "*"], "https://newsletters.example.org/")


@pytest.mark.parametrize(
    ("source_url", "page"),
    [
        ("https://news.example.org/culture/a", "https://news.example.org/culture/a"),
        ("https://News.EXAMPLE.org:443/culture/a?utm_source=x&token=s3cret#comments",
         "https://news.example.org/culture/a"),
        ("https://news.example.org", "https://news.example.org/"),
        ("  https://news.example.org/a  ", "https://news.example.org/a"),
        ("https://newsletters.example.org/subscribe?n=daily", "https://newsletters.example.org/subscribe"),
        ("https://news.example.org/%D0%BA%D1%83%D0%BB%D1%8C%D1%82",
         "https://news.example.org/%D0%BA%D1%83%D0%BB%D1%8C%D1%82"),
        (None, DIRECT),
        ("", DIRECT),
        ("   ", DIRECT),
        ("https://elsewhere.example.net/culture/a", OTHER),  # not allowed
        ("http://news.example.org/a", OTHER),  # another scheme is another origin
        ("https://news.example.org:8443/a", OTHER),
        ("https://user:pw@news.example.org/a", OTHER),
        ("javascript:alert(1)", OTHER),
        ("/culture/a", OTHER),
        ("https://news.example.org/a b", OTHER),
        ("https://news.example.org\\@evil.example/a", OTHER),
        ("https://news.example.org/a\x00", OTHER),
        ("https://news.example.org/" + "a" * 2000, OTHER),  # longer than a consent keeps
        (["https://news.example.org/a"], OTHER),
    ],
)  # fmt: skip
def test_a_source_url_counts_under_its_page(source_url, page):
    assert page_of(source_url, ORIGINS) == page


def test_a_star_names_no_origin_and_a_newsletters_own_origins_add_to_the_services():
    assert own_origins(["*"], "http://127.0.0.1:5000") == {"http://127.0.0.1:5000"}
    partner = ORIGINS | {"https://partner.example.com"}
    assert page_of("https://partner.example.com/box", partner) == "https://partner.example.com/box"
    assert page_of("https://partner.example.com/box", ORIGINS) == OTHER


def test_a_long_path_is_cut_without_half_an_escape():
    base = "https://news.example.org/"
    page = page_of(base + "%D0%BA" * 200, ORIGINS)
    assert len(page) <= PAGE_MAX and page.endswith("%BA") and page.startswith(base)
    assert page_of(base + "x" * 1000, ORIGINS) == (base + "x" * 1000)[:PAGE_MAX]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.from_regex(r"https://news\.example\.org/[^?#]{0,600}(\?.*)?"))
def test_whatever_is_posted_the_page_is_bounded_and_has_no_query(source_url):
    page = page_of(source_url, ORIGINS)
    assert len(page) <= PAGE_MAX
    assert page in (OTHER, DIRECT) or (
        page.startswith(tuple(ORIGINS)) and "?" not in page and "#" not in page
    )
