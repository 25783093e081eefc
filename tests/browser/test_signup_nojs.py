"""Hosted pages without JavaScript in Chromium (issues 13 and 14): the demo page's plain form
with a likely typo lands on a page that offers the fix and a "Yes, this address is right"
checkbox; either way ends on the thank-you page, which links back to the page signed up on.

Screenshots go to the test's tmp dir.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

THANKS = "Thank you for signing up for this newsletter. We've sent you a confirmation email."
INVALID = "Please, enter correct email address"


@pytest.fixture
def nojs(browser):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 800})
    yield context.new_page()
    context.close()


def _plain_form_signup(page, server, address: str) -> None:
    page.goto(server.url + "/")
    form = page.locator("section.plain form")
    form.get_by_label("Enter your email to subscribe").fill(address)
    page.wait_for_timeout(1100)  # a person takes longer than SIGNUP_MIN_SECONDS (1 s here)
    form.get_by_role("button", name="Subscribe").click()


@pytest.mark.parametrize("choice", ["confirm", "fix"])
def test_plain_form_typo_page_then_thanks_with_a_way_back(nojs, app_server, tmp_path, choice):
    local = f"reader.{uuid.uuid4().hex[:10]}"
    typed, fixed = f"{local}@gmial.com", f"{local}@gmail.com"
    _plain_form_signup(nojs, app_server, typed)
    expect(nojs.locator("h1")).to_have_text(INVALID)
    expect(nojs.locator("#suggestion")).to_have_text(f"Did you mean {fixed}?")
    expect(nojs.get_by_label("Email address")).to_have_value(typed)
    checkbox = nojs.get_by_label("Yes, this address is right")
    expect(checkbox).not_to_be_checked()
    nojs.screenshot(path=str(tmp_path / "typo-page.png"), full_page=True)
    nojs.wait_for_timeout(1100)
    if choice == "confirm":
        checkbox.check()
        nojs.locator("#retry").get_by_role("button", name="Subscribe").click()
    else:
        nojs.get_by_role("button", name=f"Use {fixed}").click()
    expect(nojs.locator("h1")).to_have_text(THANKS)
    back = nojs.get_by_role("link", name="Back to the site")
    expect(back).to_have_attribute("href", app_server.url + "/")  # the demo article
    nojs.screenshot(path=str(tmp_path / "thanks-page.png"), full_page=True)
    stored = app_server.subscriber_emails()
    assert (typed if choice == "confirm" else fixed) in stored
    assert (fixed if choice == "confirm" else typed) not in stored
    back.click()
    expect(nojs.locator("h1")).to_contain_text("night trains")


def test_unchecked_box_is_refused_again(nojs, app_server):
    typed = f"reader.{uuid.uuid4().hex[:10]}@hotmial.com"
    _plain_form_signup(nojs, app_server, typed)
    nojs.wait_for_timeout(1100)
    nojs.locator("#retry").get_by_role("button", name="Subscribe").click()
    expect(nojs.locator("h1")).to_have_text(INVALID)
    expect(nojs.get_by_label("Yes, this address is right")).to_be_visible()
    assert typed not in app_server.subscriber_emails()
