"""The unsubscribe and preference pages in a real headless Chromium (Debian's, via Playwright)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from werkzeug.serving import make_server

from service.extensions import db
from service.leaving.links import preferences_token, unsubscribe_token
from service.leaving.suppression import reason as suppression_reason
from tests.browser.conftest import serious_axe_violations
from tests.conftest import free_port, unique_email
from tests.support.readers import add_reader, statuses

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]


@pytest.fixture
def live_url(stack) -> Iterator[str]:
    """The stack's app served by werkzeug on a free loopback port, in a thread."""
    port = free_port()
    server = make_server("127.0.0.1", port, stack.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Headless Debian chromium."""
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


def test_preference_page_toggles_and_saves(app, chromium, live_url, newsletter):
    tag = uuid.uuid4().hex[:6]
    daily = newsletter(
        name=f"Daily Brief {tag}", description=f"The morning news {tag}", schedule_cron="0 7 * * *"
    )
    weekly = newsletter(
        name=f"Long Reads {tag}", description="Weekend essays", schedule_cron="0 9 * * 6"
    )
    reader = add_reader(daily)
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{live_url}/preferences/{preferences_token(reader.id)}")

    expect(page.get_by_role("heading", name="Your newsletters")).to_be_visible()
    expect(page.get_by_text(f"The morning news {tag}")).to_be_visible()
    daily_box = page.locator(f'input[name="newsletters"][value="{daily.slug}"]')
    weekly_box = page.locator(f'input[name="newsletters"][value="{weekly.slug}"]')
    weekly_row = page.locator(".newsletter", has=weekly_box)
    expect(weekly_row.locator(".cadence")).to_have_text("Every Saturday at 09:00 (Europe/Kyiv)")
    expect(daily_box).to_be_checked()
    expect(weekly_box).not_to_be_checked()

    page.get_by_label(f"Long Reads {tag}").check()
    page.get_by_label(f"Daily Brief {tag}").uncheck()
    page.get_by_role("button", name="Save my choices").click()

    expect(page.get_by_role("status")).to_have_text("Your choices are saved.")
    expect(page.locator(f'input[name="newsletters"][value="{weekly.slug}"]')).to_be_checked()
    # A newsletter the reader never confirmed waits for the confirmation email's link: the
    # page says so, and saving it made nobody confirmed.
    weekly_row = page.locator(".newsletter", has=page.locator(f'input[value="{weekly.slug}"]'))
    expect(weekly_row.locator(".pending")).to_contain_text("Waiting for you to confirm it")
    assert statuses(reader.id) == {daily.slug: "unsubscribed", weekly.slug: "pending"}
    assert context.cookies() == []
    context.close()


def test_unsubscribe_page_button_then_undo(app, chromium, live_url, newsletter):
    daily = newsletter(name=f"Daily Brief {uuid.uuid4().hex[:6]}")
    reader = add_reader(daily, locale="uk")
    context = chromium.new_context()
    page = context.new_page()
    url = f"{live_url}/unsubscribe/{unsubscribe_token(reader.id, daily.id)}"
    page.goto(url)
    assert statuses(reader.id) == {daily.slug: "confirmed"}  # opening the page changes nothing

    page.get_by_role("button", name="Відписатися", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(daily.name)
    assert statuses(reader.id) == {daily.slug: "unsubscribed"}

    page.get_by_role("button", name="Скасувати: залишити підписку").click()
    expect(page.get_by_role("status")).to_contain_text("З поверненням")
    assert statuses(reader.id) == {daily.slug: "confirmed"}

    page.goto(url)
    page.get_by_role("button", name="Відписатися від усього").click()
    expect(page.get_by_role("status")).to_be_visible()
    assert statuses(reader.id) == {daily.slug: "unsubscribed"}
    db.session.expire_all()
    assert suppression_reason(reader.email_key) == "unsubscribe_all"

    page.get_by_role("link", name="Натомість обрати, які розсилки залишити").click()
    expect(page.get_by_role("heading", name="Ваші розсилки")).to_be_visible()
    assert context.cookies() == []
    context.close()


def test_manage_page_answers_in_place(app, chromium, live_url, smtp):
    page = chromium.new_page()
    page.goto(f"{live_url}/manage")
    page.get_by_label("Email address").fill(unique_email())
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("status")).to_contain_text("a link to manage them is on its way")
    page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pages_pass_axe(app, chromium, live_url, newsletter, scheme):
    daily = newsletter(description="Morning news", schedule_cron="0 7 * * *")
    reader = add_reader(daily)
    # axe is injected as an inline script, which the pages' own CSP forbids (rightly).
    context = chromium.new_context(color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    for path in (
        f"/unsubscribe/{unsubscribe_token(reader.id, daily.id)}",
        f"/preferences/{preferences_token(reader.id)}",
        "/manage",
    ):
        page.goto(live_url + path)
        assert serious_axe_violations(page) == [], path
    context.close()
