"""The iframe form sizes itself in Chromium (issue 14): /forms/<slug> posts its height to the
page that frames it and /embed/frame.js sets the iframe to it, on the demo page and with the
documented snippet on another origin; at 375 px wide nothing is clipped, before and after a
message shows. The pages break no rule of their own Content-Security-Policy.

Screenshots go to the test's tmp dir.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Frame, Page, expect

from tests.browser.conftest import AppServer

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 700}
THANKS = "Thank you for signing up for this newsletter. We've sent you a confirmation email."


def snippet(server: AppServer, slug: str = "daily") -> str:
    """The iframe embed as the README documents it."""
    return (
        f'<iframe src="{server.url}/forms/{slug}" title="Newsletter signup"'
        ' style="width:100%;height:260px;border:0"></iframe>'
        f'<script src="{server.url}/embed/frame.js" async></script>'
    )


def watch_csp(page: Page) -> list[str]:
    """Collect every CSP violation reported in the page or its frames."""
    seen: list[str] = []
    page.on(
        "console",
        lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return seen


def form_frame(page: Page) -> Frame:
    frame = next((f for f in page.frames if "/forms/" in f.url), None)
    assert frame is not None, [f.url for f in page.frames]
    return frame


def fits(page: Page) -> tuple[int, int]:
    """(iframe height, height of the form page inside it), once both agree."""
    iframe = page.locator("iframe")
    frame = form_frame(page)
    content = lambda: frame.evaluate(  # noqa: E731
        "() => Math.ceil(document.documentElement.getBoundingClientRect().height)"
    )
    expect(iframe).to_have_js_property("clientHeight", content(), timeout=5000)
    return iframe.evaluate("f => f.clientHeight"), content()


def not_clipped(page: Page) -> None:
    frame = form_frame(page)
    assert frame.evaluate("() => document.documentElement.scrollHeight <= window.innerHeight"), (
        "the form page scrolls inside its iframe"
    )


def grow_with_a_message(page: Page, before: int) -> int:
    frame = form_frame(page)
    frame.get_by_label("Email address").fill(f"reader.{uuid.uuid4().hex[:8]}@gmial.com")
    frame.get_by_role("button", name="Subscribe").click()
    expect(frame.get_by_role("button", name="Did you mean", exact=False)).to_be_visible()
    page.wait_for_function(
        "h => document.querySelector('iframe').clientHeight > h", arg=before, timeout=5000
    )
    height, content = fits(page)
    assert height == content > before
    not_clipped(page)
    return height


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE)
    yield context.new_page()
    context.close()


def test_demo_page_iframe_grows_to_fit_at_375px(phone, app_server, tmp_path):
    violations = watch_csp(phone)
    phone.goto(app_server.url + "/")
    phone.locator("iframe").scroll_into_view_if_needed()  # it loads lazily
    height, _ = fits(phone)
    not_clipped(phone)
    phone.locator("iframe").screenshot(path=str(tmp_path / "demo-iframe-375.png"))
    grown = grow_with_a_message(phone, height)
    phone.locator("iframe").screenshot(path=str(tmp_path / "demo-iframe-375-message.png"))
    assert grown > 250
    assert violations == []


def test_documented_snippet_on_another_origin_grows_to_fit(phone, app_server, host_sites, tmp_path):
    violations = watch_csp(phone)
    phone.goto(host_sites[0].page(snippet(app_server)))
    height, _ = fits(phone)
    not_clipped(phone)
    grown = grow_with_a_message(phone, height)
    frame = form_frame(phone)
    frame.get_by_role("button", name="anyway", exact=False).click()
    expect(frame.get_by_role("status")).to_have_text(THANKS)
    fits(phone)
    not_clipped(phone)
    phone.screenshot(path=str(tmp_path / "snippet-375-thanks.png"), full_page=True)
    assert grown > 0 and violations == []


def test_parent_ignores_height_messages_from_other_origins(page, app_server, host_sites):
    """A page of another origin cannot resize the service's iframe by posting the same shape."""
    page.goto(host_sites[0].page(snippet(app_server)))
    height, _ = fits(page)
    # The host page itself (another origin than the service) posts a forged message.
    page.evaluate(
        """() => window.postMessage({type: "newsletter-service:height", height: 3000}, "*")"""
    )
    page.wait_for_timeout(300)
    assert page.locator("iframe").evaluate("f => f.clientHeight") == height
    # Wrong shapes from the right frame are ignored too.
    frame = form_frame(page)
    for bad in (
        '{type: "newsletter-service:height", height: "9000"}',
        '{type: "newsletter-service:height", height: 1e9}',
        '{type: "other", height: 900}',
        '"newsletter-service:height"',
    ):
        frame.evaluate(f"() => parent.postMessage({bad}, '*')")
    page.wait_for_timeout(300)
    assert page.locator("iframe").evaluate("f => f.clientHeight") == height
