"""The embeddable signup box in Debian's chromium: every state, several boxes, no JS, keyboard, axe.

News pages come from another origin than the service, so each signup below is a real
cross-origin fetch with a CORS preflight against gunicorn. Screenshots of every state go to
test-artifacts/embed-*.png.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import ROOT, AppServer, HostSite, serious_axe_violations

pytestmark = pytest.mark.browser

THANKS = "Thank you for signing up for this newsletter. We've sent you a confirmation email."
THANKS_TWO = (
    "Thank you for signing up for these 2 newsletters. We've sent you a confirmation email."
)
THANKS_UK = "Дякуємо за підписку на цю розсилку. Ми надіслали вам лист для підтвердження."
INVALID = "Please, enter correct email address"


def email(domain: str = "gmail.com") -> str:
    """An address no other test uses."""
    return f"reader.{uuid.uuid4().hex[:10]}@{domain}"


def tag(server: AppServer, **data: str | None) -> str:
    """A script tag for the box; `data` become data- attributes (None: present, no value)."""
    attrs = "".join(
        f" data-{k.replace('_', '-')}" + ("" if v is None else f'="{html.escape(v, quote=True)}"')
        for k, v in data.items()
    )
    return f'<script src="{server.url}/embed.js"{attrs} async></script>'


def boxes(page: Page) -> Locator:
    """The hosts of every signup box on the page."""
    return page.locator("[data-newsletter-box]")


def focused_id(page: Page, index: int = 0) -> str | None:
    """The id of the focused element inside box `index`, or None if focus is elsewhere."""
    return page.evaluate(
        """i => { const host = document.querySelectorAll('[data-newsletter-box]')[i];
                  return document.activeElement === host && host.shadowRoot.activeElement
                    ? host.shadowRoot.activeElement.id || host.shadowRoot.activeElement.className
                    : null; }""",
        index,
    )


def state(box: Locator) -> str | None:
    return box.locator(".box").get_attribute("data-state")


def shot(box: Locator, artifacts: Path, name: str) -> None:
    box.screenshot(path=str(artifacts / f"embed-{name}.png"), animations="allow")


def open_box(page: Page, site: HostSite, server: AppServer, **data: str | None) -> Locator:
    page.goto(site.page(tag(server, **data)))
    box = boxes(page).first
    expect(box.locator("input[type=email]")).to_be_visible()
    return box


def api_requests(page: Page) -> list[str]:
    """Collect the methods of requests the page sends to the signup API."""
    seen: list[str] = []
    page.on(
        "request",
        lambda r: seen.append(r.method) if r.url.endswith("/api/v1/subscriptions") else None,
    )
    return seen


# --- the script and the iframe page over plain HTTP --------------------------------------


def test_embed_js_is_small_cacheable_javascript(app_server):
    with urllib.request.urlopen(app_server.url + "/embed.js") as response:
        body = response.read()
        headers = response.headers
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "public" in headers["Cache-Control"]
    assert "max-age=3600" in headers["Cache-Control"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in headers
    assert len(gzip.compress(body, 9)) < 8 * 1024
    request = urllib.request.Request(
        app_server.url + "/embed.js", headers={"If-None-Match": headers["ETag"]}
    )
    with pytest.raises(urllib.error.HTTPError) as not_modified:
        urllib.request.urlopen(request)
    assert not_modified.value.code == 304


def test_form_page_for_iframe_and_404_for_unknown_slug(app_server, host_sites):
    with urllib.request.urlopen(app_server.url + "/forms/daily") as response:
        body = response.read().decode()
        policy = response.headers["Content-Security-Policy"]
    assert 'data-newsletters="daily"' in body
    assert "<noscript>" in body
    assert f"frame-ancestors 'self' {host_sites[0].url}" in policy
    request = urllib.request.Request(
        app_server.url + "/forms/no-such-letter", headers={"Accept": "text/html"}
    )
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request)
    assert missing.value.code == 404
    assert missing.value.headers["Content-Type"].startswith("text/html")


def test_cors_only_for_allowed_origins_and_never_with_credentials(app_server, host_sites):
    def preflight(origin: str):
        request = urllib.request.Request(
            app_server.url + "/api/v1/subscriptions",
            method="OPTIONS",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        with urllib.request.urlopen(request) as response:
            return response.headers

    allowed = preflight(host_sites[0].url)
    assert allowed["Access-Control-Allow-Origin"] == host_sites[0].url
    assert "content-type" in allowed["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in allowed
    assert "Set-Cookie" not in allowed
    assert "Access-Control-Allow-Origin" not in preflight(host_sites[1].url)


# --- states -----------------------------------------------------------------------------


def test_idle_box_renders_in_shadow_root_and_hides_the_honeypot(
    page, app_server, host_sites, artifacts
):
    box = open_box(
        page,
        host_sites[0],
        app_server,
        newsletters="daily",
        title="Ukraine Daily",
        description="The day's most important news from Ukraine, every morning.",
    )
    assert (
        page.evaluate("() => document.querySelector('[data-newsletter-box]').shadowRoot.mode")
        == "open"
    )
    assert state(box) == "idle"
    expect(box.get_by_role("heading", name="Ukraine Daily")).to_be_visible()
    expect(box.get_by_label("Email address")).to_have_attribute("type", "email")
    # The honeypot is neither visible nor in the accessibility tree; the host CSS did not leak.
    trap = box.locator("input[name=website]").bounding_box()
    assert trap is not None and trap["x"] + trap["width"] <= 0  # drawn off-screen
    expect(box.get_by_role("textbox")).to_have_count(1)
    font_size = box.get_by_role("button", name="Subscribe").evaluate(
        "b => getComputedStyle(b).fontSize"
    )
    assert font_size == "16px"
    shot(box, artifacts, "idle")


def test_submitting_then_success_replaces_the_form(
    page, context, app_server, host_sites, artifacts
):
    box = open_box(page, host_sites[0], app_server, newsletters="daily")
    address = email()
    box.get_by_label("Email address").fill(address)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 1500, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    box.get_by_role("button", name="Subscribe").click()
    button = box.locator("button.go")
    expect(button).to_be_disabled()
    expect(box.locator(".spin")).to_be_visible()
    expect(box.locator("#msg")).to_have_text("Sending…")
    assert state(box) == "submitting"
    shot(box, artifacts, "submitting")
    expect(box.get_by_role("status")).to_have_text(THANKS, timeout=15000)
    assert state(box) == "success"
    expect(box.locator("form")).to_be_hidden()
    assert focused_id(page) == "msg"
    assert address in app_server.subscriber_emails()
    shot(box, artifacts, "success")


def test_invalid_address_shows_the_server_message_under_the_field(
    page, app_server, host_sites, artifacts
):
    box = open_box(page, host_sites[0], app_server, newsletters="daily")
    seen = api_requests(page)
    field = box.get_by_label("Email address")
    field.fill("reader@@news")
    box.get_by_role("button", name="Subscribe").click()
    expect(box.locator("#msg")).to_have_text(INVALID)
    assert "POST" in seen  # the server judged it, not the script
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", "msg")
    assert state(box) == "invalid"
    assert focused_id(page) == "email"
    shot(box, artifacts, "invalid")
    field.fill("x")  # typing clears the invalid mark
    expect(field).not_to_have_attribute("aria-invalid", "true")


def test_empty_address_is_caught_before_sending(page, app_server, host_sites):
    box = open_box(page, host_sites[0], app_server, newsletters="daily")
    seen = api_requests(page)
    box.get_by_role("button", name="Subscribe").click()
    expect(box.locator("#msg")).to_have_text("Please enter your email address")
    assert "POST" not in seen


def test_typo_suggestion_from_the_server_fixes_the_field_in_one_click(
    page, app_server, host_sites, tmp_path
):
    box = open_box(page, host_sites[0], app_server, newsletters="daily")
    seen = api_requests(page)
    local = f"reader.{uuid.uuid4().hex[:10]}"
    field = box.get_by_label("Email address")
    field.fill(f"{local}@gmial.com")
    box.get_by_role("button", name="Subscribe").click()
    hint = box.get_by_role("button", name=f"Did you mean {local}@gmail.com?")
    expect(hint).to_be_visible()
    assert state(box) == "suggestion"
    assert "POST" in seen  # the server judged it: the script has no list of its own
    expect(box.locator("#msg .err")).to_have_text(INVALID)
    expect(field).to_have_attribute("aria-invalid", "true")
    box.screenshot(path=str(tmp_path / "suggestion.png"))
    hint.click()
    expect(field).to_have_value(f"{local}@gmail.com")
    assert focused_id(page) == "email"
    box.get_by_role("button", name="Subscribe").click()
    expect(box.get_by_role("status")).to_have_text(THANKS)
    assert f"{local}@gmail.com" in app_server.subscriber_emails()
    assert f"{local}@gmial.com" not in app_server.subscriber_emails()


@pytest.mark.parametrize("domain", ["gmial.com", "hotmial.com", "yahooo.com"])
def test_use_it_anyway_posts_again_with_confirm_address_and_ends_in_thanks(
    page, app_server, host_sites, tmp_path, domain
):
    box = open_box(page, host_sites[0], app_server, newsletters="daily")
    bodies: list[dict] = []
    page.on(
        "request",
        lambda r: (
            bodies.append(json.loads(r.post_data or "{}"))
            if r.method == "POST" and r.url.endswith("/api/v1/subscriptions")
            else None
        ),
    )
    typed = email(domain)
    box.get_by_label("Email address").fill(typed)
    box.get_by_role("button", name="Subscribe").click()
    anyway = box.get_by_role("button", name=f"No, use {typed} anyway")
    expect(anyway).to_be_visible()
    box.screenshot(path=str(tmp_path / f"anyway-{domain}.png"))
    anyway.click()
    expect(box.get_by_role("status")).to_have_text(THANKS)
    box.screenshot(path=str(tmp_path / f"anyway-{domain}-thanks.png"))
    assert [b.get("confirm_address") for b in bodies] == [None, True]
    assert [b["email"] for b in bodies] == [typed, typed]
    assert typed in app_server.subscriber_emails()


def test_no_use_it_anyway_for_an_address_no_one_receives_mail_at(page, app_server, host_sites):
    box = open_box(page, host_sites[0], app_server, newsletters="daily")
    local = f"reader.{uuid.uuid4().hex[:10]}"
    field = box.get_by_label("Email address")
    field.fill(f"{local}@gmail.co")
    box.get_by_role("button", name="Subscribe").click()
    expect(box.locator("#msg .err")).to_have_text(INVALID)
    anyway = box.get_by_role("button", name=re.compile("anyway"))
    anyway.click()  # the server still refuses it, and says so: nothing left to insist on
    expect(box.locator("#msg .err")).to_have_text(INVALID)
    expect(anyway).to_have_count(0)
    box.get_by_role("button", name=f"Did you mean {local}@gmail.com?").click()
    expect(field).to_have_value(f"{local}@gmail.com")
    expect(field).not_to_have_attribute("aria-invalid", "true")


def test_rate_limited(page, limited_server, host_sites, artifacts):
    for _ in range(2):  # use up the 2/minute allowance of 127.0.0.1
        request = urllib.request.Request(
            limited_server.url + "/api/v1/subscriptions",
            data=json.dumps({"email": email(), "newsletters": ["daily"]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as response:
            assert response.status == 202
    box = open_box(page, host_sites[0], limited_server, newsletters="daily")
    box.get_by_label("Email address").fill(email())
    box.get_by_role("button", name="Subscribe").click()
    expect(box.locator("#msg")).to_have_text(
        "Too many attempts. Please wait a few minutes and try again."
    )
    assert state(box) == "rate-limited"
    expect(box.locator("button.go")).to_be_enabled()
    shot(box, artifacts, "rate-limited")


def test_network_error_offers_a_retry_that_works(page, context, app_server, host_sites, artifacts):
    box = open_box(page, host_sites[0], app_server, newsletters="daily")
    address = email()
    box.get_by_label("Email address").fill(address)
    context.set_offline(True)
    box.get_by_role("button", name="Subscribe").click()
    retry = box.get_by_role("button", name="Try again")
    expect(retry).to_be_visible()
    assert state(box) == "network-error"
    expect(box.locator("#msg")).to_contain_text("We could not reach the server")
    assert focused_id(page) == "again"
    shot(box, artifacts, "network-error")
    context.set_offline(False)
    retry.click()
    expect(box.get_by_role("status")).to_have_text(THANKS)
    assert address in app_server.subscriber_emails()


def test_origin_not_allowed_cannot_post(page, app_server, host_sites):
    """The box learns it from the names it fetches and offers no form that cannot work (it
    said "check your connection" after the refused post before); the console says why."""
    sent = api_requests(page)
    page.goto(host_sites[1].page(tag(app_server, newsletters="daily")))
    box = boxes(page).first
    expect(box.locator("#msg")).to_contain_text("Please subscribe on our own website.")
    expect(box.get_by_label("Email address")).to_be_hidden()
    assert state(box) == "unavailable" and sent == []


# --- several boxes, options, locales ------------------------------------------------------


def test_two_boxes_on_one_page_work_independently(page, app_server, host_sites, artifacts):
    page.goto(
        host_sites[0].page(
            tag(app_server, newsletters="daily", title="Ukraine Daily")
            + "<p>Article text between the boxes.</p>"
            + tag(app_server, newsletters="daily,explaining-ukraine", theme="dark")
        )
    )
    first, second = boxes(page).nth(0), boxes(page).nth(1)
    expect(second.get_by_label("Explaining Ukraine with Kate Tsurkan")).to_be_visible()
    expect(second.get_by_label("Ukraine Daily")).to_be_checked()
    first.get_by_label("Email address").fill("not an address")
    first.get_by_role("button", name="Subscribe").click()
    expect(first.locator("#msg")).to_have_text(INVALID)
    assert state(second) == "idle"
    expect(second.locator("#msg")).to_be_empty()

    address = email()
    second.get_by_label("Ukraine Daily").uncheck()
    second.get_by_label("Explaining Ukraine with Kate Tsurkan").check()
    second.get_by_label("Email address").fill(address)
    second.get_by_role("button", name="Subscribe").click()
    expect(second.get_by_role("status")).to_have_text(THANKS)
    expect(first.locator("#msg")).to_have_text(INVALID)  # untouched by the other box
    expect(first.locator("form")).to_be_visible()
    assert address in app_server.subscriber_emails()
    shot(second, artifacts, "several-dark-success")
    page.screenshot(path=str(artifacts / "embed-two-boxes.png"), full_page=True)


def test_no_newsletter_ticked_is_caught(page, app_server, host_sites):
    box = open_box(page, host_sites[0], app_server, newsletters="daily,explaining-ukraine")
    box.get_by_label("Ukraine Daily", exact=True).uncheck()
    box.get_by_label("Email address").fill(email())
    box.get_by_role("button", name="Subscribe").click()
    expect(box.locator("#msg")).to_have_text("Please choose at least one newsletter")


def test_ukrainian_compact_box_with_accent(page, app_server, host_sites, artifacts):
    box = open_box(
        page,
        host_sites[0],
        app_server,
        newsletters="daily",
        locale="uk",
        compact=None,
        accent="#a30000",
        button="Хочу читати",
    )
    expect(box.get_by_role("heading")).to_have_text("Підпишіться на нашу розсилку")
    expect(box.get_by_label("Електронна пошта")).to_be_visible()
    shot(box, artifacts, "compact-uk")
    box.get_by_label("Електронна пошта").fill(email())
    box.get_by_role("button", name="Хочу читати").click()
    expect(box.get_by_role("status")).to_have_text(THANKS_UK)


def test_iframe_form(page, app_server, host_sites, artifacts):
    page.goto(
        host_sites[0].page(
            f'<iframe src="{app_server.url}/forms/daily?theme=dark" title="Newsletter signup"'
            ' style="width:600px;height:280px;border:0"></iframe>'
        )
    )
    frame = page.frame_locator("iframe")
    frame.get_by_label("Email address").fill(email())
    page.locator("iframe").screenshot(path=str(artifacts / "embed-iframe.png"))
    frame.get_by_role("button", name="Subscribe").click()
    expect(frame.get_by_role("status")).to_have_text(THANKS)


# --- without JavaScript -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en", THANKS), ("uk", THANKS_UK)],
)
def test_plain_form_without_javascript_lands_on_a_hosted_page(
    browser, app_server, host_sites, locale, expected
):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(
            host_sites[0].page(
                f'<form method="post" action="{app_server.url}/api/v1/subscriptions">'
                '<input type="hidden" name="newsletters" value="daily">'
                f'<input type="hidden" name="locale" value="{locale}">'
                '<label for="e">Email</label><input id="e" type="email" name="email">'
                '<button type="submit">Go</button></form>'
            )
        )
        page.locator("#e").fill(email())
        page.locator("button").click()
        expect(page.locator("h1")).to_have_text(expected)
        assert page.url == app_server.url + "/api/v1/subscriptions"
        assert page.locator("html").get_attribute("lang") == locale
    finally:
        context.close()


def test_iframe_page_without_javascript_uses_its_plain_form(browser, app_server, artifacts):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(app_server.url + "/forms/explaining-ukraine?locale=uk")
        address = email()
        page.get_by_label("Електронна пошта").fill(address)
        page.screenshot(path=str(artifacts / "embed-nojs-form.png"))
        page.wait_for_timeout(1100)  # a person takes longer than SIGNUP_MIN_SECONDS (1 s here)
        page.get_by_role("button", name="Підписатися").click()
        expect(page.locator("h1")).to_have_text(THANKS_UK)
        assert address in app_server.subscriber_emails()  # the signed form stamp passed
    finally:
        context.close()


# --- keyboard and accessibility -----------------------------------------------------------


def test_keyboard_only(page, app_server, host_sites, artifacts):
    page.goto(host_sites[0].page(tag(app_server, newsletters="daily,explaining-ukraine")))
    box = boxes(page).first
    expect(box.get_by_label("Explaining Ukraine with Kate Tsurkan")).to_be_visible()
    page.keyboard.press("Tab")  # first checkbox (ticked by default)
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # tick the second newsletter
    expect(box.get_by_label("Explaining Ukraine with Kate Tsurkan")).to_be_checked()
    page.keyboard.press("Tab")
    assert focused_id(page) == "email"
    local = f"reader.{uuid.uuid4().hex[:10]}"
    page.keyboard.type(f"{local}@gmial.com")
    page.keyboard.press("Enter")
    expect(box.get_by_role("button", name=f"Did you mean {local}@gmail.com?")).to_be_visible()
    assert focused_id(page) == "email"
    page.keyboard.press("Tab")  # the submit button
    page.keyboard.press("Tab")  # the suggestion
    assert focused_id(page) == "link fix"
    page.keyboard.press("Enter")
    expect(box.get_by_label("Email address")).to_have_value(f"{local}@gmail.com")
    page.keyboard.press("Enter")
    expect(box.get_by_role("status")).to_have_text(THANKS_TWO)  # two newsletters ticked
    assert f"{local}@gmail.com" in app_server.subscriber_emails()


def test_accessibility_of_every_variant_and_state(page, app_server, host_sites):
    page.goto(
        host_sites[0].page(
            tag(
                app_server, newsletters="daily", title="Ukraine Daily", description="Every morning."
            )
            + tag(app_server, newsletters="daily,explaining-ukraine")
            + tag(app_server, newsletters="daily", theme="dark", locale="uk")
            + tag(app_server, newsletters="daily", compact=None, accent="#ffd500")
            + tag(app_server, newsletters="daily", theme="dark", accent="#0b57d0")
        )
    )
    all_boxes = boxes(page)
    expect(all_boxes).to_have_count(5)
    expect(all_boxes.nth(1).get_by_label("Explaining Ukraine with Kate Tsurkan")).to_be_visible()
    assert serious_axe_violations(page) == []
    for i in range(5):  # error, suggestion and network states
        box = all_boxes.nth(i)
        box.locator("input[type=email]").fill("reader@gmial.com" if i % 2 else "bad@@x")
        box.locator("button.go").click()
        expect(box.locator("#msg")).not_to_be_empty()
    assert serious_axe_violations(page) == []


def test_demo_article_page_shows_every_variant(page, app_server, artifacts):
    page.goto(app_server.url + "/")
    expect(boxes(page)).to_have_count(4)
    frame = page.frame_locator("iframe")
    expect(frame.get_by_label("Email address")).to_be_visible()
    expect(page.locator("form[action$='/api/v1/subscriptions']")).to_have_count(1)
    page.screenshot(path=str(artifacts / "embed-demo-article.png"), full_page=True)
    assert (ROOT / "test-artifacts" / "embed-demo-article.png").exists()
