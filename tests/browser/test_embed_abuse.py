"""The box against the abuse checks, in Debian's chromium: a quick reader is delayed, not
dropped; with Turnstile on, the widget is drawn and its token verified by the server.

No internet here: the Turnstile script is a small fake served by Playwright's `page.route`
(it draws a checkbox and hands out the provider's documented dummy token), and the server's
siteverify call goes to the stand-in in tests/support/captcha_server.py.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.test_embed import THANKS, boxes, email, open_box, shot, state, tag
from tests.support.captcha_server import TURNSTILE_SITE_KEY, TURNSTILE_TOKEN

pytestmark = pytest.mark.browser

FAKE_TURNSTILE = """
window.turnstile = (function () {
  var widgets = [];
  return {
    render: function (spot, options) {
      var label = document.createElement("label"), tick = document.createElement("input");
      tick.type = "checkbox";
      tick.style.cssText = "all:revert";  // the real widget is an iframe, out of the page's CSS
      label.append(tick, " I am human (test widget for " + options.sitekey + ")");
      spot.appendChild(label);
      widgets.push(tick);
      return String(widgets.length - 1);
    },
    getResponse: function (id) { return widgets[+id].checked ? "TOKEN" : undefined; },
    reset: function (id) { widgets[+id].checked = false; },
  };
})();
""".replace("TOKEN", TURNSTILE_TOKEN)


def signup_posts(page) -> list[tuple[float, dict]]:
    """(time, JSON body) of every signup POST the page sends."""
    seen: list[tuple[float, dict]] = []
    page.on(
        "request",
        lambda r: (
            seen.append((time.monotonic(), r.post_data_json))
            if r.method == "POST" and r.url.endswith("/api/v1/subscriptions")
            else None
        ),
    )
    return seen


def test_a_quick_reader_is_delayed_then_subscribed(page, patient_server, host_sites, artifacts):
    box = open_box(page, host_sites[0], patient_server, newsletters="daily")
    shown = time.monotonic()
    posts = signup_posts(page)
    address = email()
    box.get_by_label("Email address").fill(address)
    box.get_by_role("button", name="Subscribe").click()  # well within the 3 s minimum
    expect(box.locator(".spin")).to_be_visible()
    page.wait_for_timeout(1200)
    assert state(box) == "submitting" and posts == []  # still waiting, spinner on
    shot(box, artifacts, "min-time-waiting")
    expect(box.get_by_role("status")).to_have_text(THANKS, timeout=10000)
    [(sent_at, body)] = posts
    assert body["elapsed_ms"] >= 3000
    assert sent_at - shown >= 3000 / 1000 - 0.5  # the box was drawn a moment before `shown`
    assert address in patient_server.subscriber_emails()

    # The rule is live on that server: the same post sent at once is quietly dropped.
    quick = email()
    request = urllib.request.Request(
        patient_server.url + "/api/v1/subscriptions",
        data=json.dumps({"email": quick, "newsletters": ["daily"], "elapsed_ms": 300}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 202
    assert quick not in patient_server.subscriber_emails()


def test_turnstile_widget_token_is_verified_by_the_server(
    page, captcha_server, captcha_verifier, host_sites, artifacts
):
    page.route(
        "https://challenges.cloudflare.com/turnstile/v0/api.js*",
        lambda route: route.fulfill(body=FAKE_TURNSTILE, content_type="text/javascript"),
    )
    page.goto(host_sites[0].page(tag(captcha_server, newsletters="daily")))
    box = boxes(page).first
    human = box.get_by_label(f"I am human (test widget for {TURNSTILE_SITE_KEY})")
    expect(human).to_be_visible()
    address = email()
    box.get_by_label("Email address").fill(address)
    box.get_by_role("button", name="Subscribe").click()  # the check not done
    expect(box.locator("#msg")).to_have_text(
        "We could not confirm that you are a person. Please complete the check and try again.",
        timeout=10000,
    )
    assert state(box) == "error" and captcha_verifier.calls == []
    assert address not in captcha_server.subscriber_emails()
    shot(box, artifacts, "captcha-failed")
    human.check()
    box.get_by_role("button", name="Subscribe").click()
    expect(box.get_by_role("status")).to_have_text(THANKS, timeout=10000)
    assert [c["response"] for c in captcha_verifier.calls] == [TURNSTILE_TOKEN]
    assert address in captcha_server.subscriber_emails()
