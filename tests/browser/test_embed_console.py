"""The embed tells the site developer at once, in the browser console, and follows the reader's
language (issue 21): no slug, an unknown slug and a page whose origin may not sign readers up
are reported with what to do, and the box does not pretend to work; the box speaks the page's
`lang`, then the browser's, unless `data-locale` says otherwise, on the demo page too; an
address at a reserved domain is refused with the reason.
"""

from __future__ import annotations

import time
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import AppServer, HostSite
from tests.browser.test_embed import boxes, tag

pytestmark = pytest.mark.browser

TITLE_UK = "Підпишіться на нашу розсилку"
TITLE_EN = "Subscribe to our newsletter"
ELSEWHERE = (
    "This site may not sign readers up to this newsletter. Please subscribe on our own website."
)


def host_page(site: HostSite, body: str, lang: str | None = "en") -> str:
    """A page of `site` holding `body`, with `<html lang>` as given (None: no lang at all)."""
    path = f"/page-{uuid.uuid4().hex[:8]}.html"
    attr = f' lang="{lang}"' if lang is not None else ""
    site.pages[path] = (
        f'<!doctype html><html{attr}><head><meta charset="utf-8"><title>Article</title></head>'
        f"<body><main><h1>Article</h1>{body}</main></body></html>"
    )
    return site.url + path


class Console:
    """What the page wrote to the browser console."""

    def __init__(self, page: Page):
        self.page, self.lines = page, []
        page.on("console", lambda m: self.lines.append((m.type, m.text)))

    def wait_for(self, needle: str, timeout: float = 10.0) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if needle in line[1]:
                    return line
            self.page.wait_for_timeout(100)
        raise AssertionError(f"no console line with {needle!r}; got {self.lines}")

    def ours(self) -> list[tuple[str, str]]:
        return [line for line in self.lines if "newsletter-service" in line[1]]


def test_a_good_box_says_nothing_in_the_console(page, app_server, host_sites):
    console = Console(page)
    page.goto(host_page(host_sites[0], tag(app_server, newsletters="daily")))
    expect(boxes(page).first.get_by_label("Email address")).to_be_visible()
    page.wait_for_timeout(1000)  # the names have arrived
    assert console.ours() == []


def test_an_unknown_slug_is_reported_and_no_box_pretends(page, app_server, host_sites):
    console = Console(page)
    page.goto(host_page(host_sites[0], tag(app_server, newsletters="dayly")))
    kind, text = console.wait_for('no newsletter is called "dayly"')
    assert kind == "error"
    assert "data-newsletters" in text and "daily" in text  # what exists, to pick from
    expect(boxes(page)).to_have_count(0)


def test_an_unknown_slug_among_good_ones_is_left_out(page, app_server, host_sites):
    console = Console(page)
    page.goto(host_page(host_sites[0], tag(app_server, newsletters="daily,nope")))
    console.wait_for('no newsletter is called "nope"')
    box = boxes(page).first
    expect(box.get_by_label("Ukraine Daily")).to_be_checked()
    expect(box.get_by_role("checkbox")).to_have_count(1)


def test_a_box_without_newsletters_is_reported_and_not_drawn(page, app_server, host_sites):
    console = Console(page)
    page.goto(host_page(host_sites[0], tag(app_server)))
    kind, text = console.wait_for("names no newsletter")
    assert kind == "error" and 'data-newsletters="slug"' in text and "daily" in text
    expect(boxes(page)).to_have_count(0)


def test_an_origin_not_allowed_is_reported_and_the_reader_sent_to_our_site(
    page, app_server, host_sites
):
    console = Console(page)
    other = host_sites[1]
    page.goto(host_page(other, tag(app_server, newsletters="daily")))
    kind, text = console.wait_for("may not sign readers up")
    assert kind == "error"
    assert other.url in text and "ALLOWED_ORIGINS" in text and "--allowed-origin" in text
    box = boxes(page).first
    expect(box.locator("#msg")).to_contain_text(ELSEWHERE)
    expect(box.get_by_role("link", name="Subscribe on our website")).to_have_attribute(
        "href", app_server.url + "/subscribe"
    )
    expect(box.get_by_label("Email address")).to_be_hidden()


@pytest.mark.parametrize(
    ("lang", "browser_locale", "data_locale", "title"),
    [
        ("uk", "en-US", None, TITLE_UK),  # the page's language
        ("uk-UA", "en-US", None, TITLE_UK),
        (None, "uk-UA", None, TITLE_UK),  # no lang on the page: the browser's
        ("de", "uk-UA", None, TITLE_UK),  # a language the box does not speak: the browser's
        ("en", "uk-UA", None, TITLE_EN),  # the page wins over the browser
        ("uk", "uk-UA", "en", TITLE_EN),  # data-locale wins over both
    ],
)
def test_the_box_follows_the_readers_language(
    browser, app_server: AppServer, host_sites, lang, browser_locale, data_locale, title
):
    context = browser.new_context(locale=browser_locale)
    try:
        page = context.new_page()
        data = {"newsletters": "daily"} | ({"locale": data_locale} if data_locale else {})
        page.goto(host_page(host_sites[0], tag(app_server, **data), lang=lang))
        expect(boxes(page).first.locator("h2")).to_have_text(title)
    finally:
        context.close()


def test_the_demo_page_follows_the_reader_too(browser, app_server):
    context = browser.new_context(locale="uk-UA")
    try:
        page = context.new_page()
        page.goto(app_server.url + "/")
        expect(page.locator("html")).to_have_attribute("lang", "uk")
        several = boxes(page).nth(1)
        expect(several.get_by_role("group")).to_contain_text("Оберіть розсилки")
        expect(boxes(page).first.get_by_label("Електронна пошта")).to_be_visible()
        page.goto(app_server.url + "/?locale=en")
        expect(boxes(page).first.get_by_label("Email address")).to_be_visible()
    finally:
        context.close()


def test_a_reserved_domain_gets_the_reason(page, app_server, host_sites):
    page.goto(host_page(host_sites[0], tag(app_server, newsletters="daily")))
    box = boxes(page).first
    box.get_by_label("Email address").fill("olena@example.com")
    box.get_by_role("button", name="Subscribe").click()
    expect(box.locator("#msg .err")).to_have_text(
        "example.com is reserved for examples and tests: no mail can reach it. "
        "Please enter your own address."
    )
