"""The console's dashboard in Debian's chromium on the embedded stack (gunicorn, a worker): a
reader signs up in the embed on a news page whose address carries a tracking query, two more
sign up from a foreign page and from no page, and the dashboard's "Pages that bring signups"
shows the page without its query, "other" and "direct"; at phone width its tables keep whole
words in their headers and scroll sideways inside the page, never the page itself; axe finds
nothing serious; drawn at 1280 and 375 px into test-artifacts/."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import serious_axe_violations
from tests.browser.test_console import newsletter_cli, sign_in, staff
from tests.browser.test_embed import THANKS, tag

pytestmark = pytest.mark.browser


def _post_signup(base: str, slug: str, source_url: str | None) -> None:
    """A signup as a server-side form would post it (no Origin: not a browser)."""
    body = {"email": f"reader.{uuid.uuid4().hex[:10]}@gmail.com", "newsletters": slug}
    if source_url is not None:
        body["source_url"] = source_url
    request = urllib.request.Request(
        base + "/api/v1/subscriptions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 202


@pytest.fixture(scope="module")
def signed_up(app_server, host_sites, browser) -> dict[str, str]:
    """A newsletter with three signups: from a news page (through the embed, its address with
    a tracking query), from a foreign site, and from no page. Its name and the page's path."""
    slug = f"pages-{uuid.uuid4().hex[:6]}"
    name = f"Pages {slug[-6:]}"
    newsletter_cli(app_server.env, "newsletters", "create", slug, "--name", name)
    site, query = host_sites[0], "?utm_source=newsletter&utm_campaign=x"
    url = site.page(tag(app_server, newsletters=slug))
    article = url.removeprefix(site.url)
    site.pages[article + query] = site.pages[article]  # the host serves it with the query too
    context = browser.new_context()
    page = context.new_page()
    page.goto(url + query)
    box = page.locator("[data-newsletter-box]").first
    box.get_by_label("Email address").fill(f"reader.{uuid.uuid4().hex[:10]}@gmail.com")
    box.get_by_role("button", name="Subscribe").click()
    expect(box.get_by_role("status")).to_have_text(THANKS, timeout=15000)
    context.close()
    _post_signup(app_server.url, slug, "https://elsewhere.example.net/any/page?x=1")
    _post_signup(app_server.url, slug, None)
    assert len(app_server.subscriber_emails()) >= 3  # the worker applied them
    return {"name": name, "path": article}


@pytest.mark.parametrize("width", [1280, 375])
def test_the_dashboard_shows_the_pages_that_bring_signups(
    browser, app_server, signed_up, artifacts, width
):
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    sign_in(page, app_server.url, staff(app_server.env, "viewer"))
    expect(page.get_by_role("heading", name="Pages that bring signups")).to_be_visible()
    region = page.get_by_role("region", name=f"{signed_up['name']}: the last 30 days, top 10 pages")
    rows = region.locator("tbody tr")
    expect(rows).to_have_count(3)
    link = region.get_by_role("link", name=signed_up["path"])
    expect(link).to_have_attribute("href", re.compile(re.escape(signed_up["path"]) + "$"))
    for label in (signed_up["path"], "Pages on other sites", "No page (direct)"):
        row = rows.filter(has_text=label)
        expect(row.locator("td").nth(0)).to_have_text("1")  # one signup each
        expect(row.locator("td").nth(1)).to_have_text("0")  # none confirmed yet
    assert "utm_source" not in region.inner_text()

    # At any width the page itself never scrolls sideways, and no header is broken inside a
    # word (a phone used to get "Con/fir/me/d"): wide tables scroll in their own region.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    heights = page.locator("main table thead th").evaluate_all(
        "cells => cells.map(c => [c.innerText, c.getBoundingClientRect().height])"
    )
    line = page.locator("main table thead th").first.evaluate(
        "c => parseFloat(getComputedStyle(c).lineHeight)"
    )
    assert line > 0 and len(heights) >= 12  # a line height in px; every table's headers
    assert [text for text, height in heights if text.strip() and height > 2 * line] == []
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / f"console-dashboard-sources-{width}.png"), full_page=True)
    if width < 700:  # the table scrolls sideways within its region, its heading stays put
        scrolled = region.evaluate("r => { r.scrollLeft = 400; return r.scrollLeft; }")
        assert scrolled > 0
        region.screenshot(path=str(artifacts / f"console-dashboard-sources-scrolled-{width}.png"))
    context.close()
