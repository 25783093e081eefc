"""The console on a phone (375 px) in Debian's chromium, as an owner walks it on the embedded
stack: no page is wider than the screen, no button breaks its word over lines ("Dis/ab/le"),
no column heading either ("Subscript/ions"): a table too wide scrolls inside its own box, and
the staff list (and its pending invitations) becomes one card per row; axe finds nothing
serious on these pages.
(The dashboard is left to its own tests.)"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import serious_axe_violations
from tests.browser.test_console import newsletter_cli, sign_in, staff

WIDTH = 375
PAGES = ("/admin/readers", "/admin/readers?newsletter={slug}", "/admin/newsletters",
         "/admin/sends", "/admin/articles", "/admin/suppressions", "/admin/imports/new",
         "/admin/api-keys", "/admin/staff", "/admin/audit", "/admin/account")  # fmt: skip

# Text that takes more lines than it has words has a word broken in the middle (a range over
# an element's text has one client rect per line it takes).
BROKEN_WORDS = r"""(selector) => [...document.querySelectorAll(selector)].filter((el) => {
  const box = el.getBoundingClientRect();
  if (box.width <= 1 || el.closest('.visually-hidden')) return false;
  const text = [...el.childNodes].find((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  if (!text) return false;
  const range = document.createRange();
  range.selectNodeContents(text);
  const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
  return lines.size > text.textContent.trim().split(/\s+/).length;
}).map((el) => el.textContent.trim())"""


@pytest.fixture(scope="module")
def readers_newsletter(embed_env, tmp_path_factory) -> str:
    """A newsletter with a few confirmed readers, a key and more staff, so lists have rows."""
    slug = f"phone-{uuid.uuid4().hex[:6]}"
    newsletter_cli(embed_env, "newsletters", "create", slug, "--name", "Phone Weekly")
    readers = tmp_path_factory.mktemp("phone") / "readers.csv"
    readers.write_text("email\n" + "".join(f"reader{i}-{slug}@gmail.com\n" for i in range(3)))
    newsletter_cli(embed_env, "subscribers", "import", str(readers), "--newsletter", slug,
                   "--consent", "phone test")  # fmt: skip
    newsletter_cli(embed_env, "api-keys", "create", f"cms-{slug}", "--scope", "write")
    staff(embed_env, "viewer")
    return slug


def wide_or_broken(page: Page) -> dict[str, object]:
    """What does not fit a phone on this page."""
    found: dict[str, object] = {}
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > WIDTH:
        found["page width"] = width
    buttons = page.evaluate(BROKEN_WORDS, "main button, main a.button")
    headings = page.evaluate(BROKEN_WORDS, "main thead th")
    if buttons:
        found["buttons broken over lines"] = buttons
    if headings:
        found["headings broken over lines"] = headings
    return found


def invite_someone(page: Page, base: str) -> None:
    """An invitation through the staff page's form, so that its pending list has a row."""
    page.goto(base + "/admin/staff")
    page.get_by_label("Email address").fill(f"desk-{uuid.uuid4().hex[:6]}@newsroom.org.ua")
    page.get_by_role("button", name="Send the invitation").click()
    expect(
        page.get_by_role("button", name=re.compile("^Withdraw the invitation")).first
    ).to_be_visible()


def test_every_list_fits_a_phone_without_breaking_words(browser, app_server, readers_newsletter):
    owner = staff(app_server.env, "owner")
    context = browser.new_context(viewport={"width": WIDTH, "height": 800})
    page = context.new_page()
    sign_in(page, app_server.url, owner)
    invite_someone(page, app_server.url)
    page.goto(app_server.url + f"/admin/readers?newsletter={readers_newsletter}")
    page.locator("main tbody a").first.click()
    expect(page.locator("h1.address")).to_be_visible()
    problems = {"reader": wide_or_broken(page)}
    for path in PAGES:
        page.goto(app_server.url + path.format(slug=readers_newsletter))
        expect(page.locator("h1")).to_be_visible()
        problems[path] = wide_or_broken(page)
    assert {path: found for path, found in problems.items() if found} == {}
    context.close()


def test_the_phone_pages_are_accessible(browser, app_server, readers_newsletter):
    # axe-core is added as an inline script, which the console's policy refuses
    context = browser.new_context(viewport={"width": WIDTH, "height": 800}, bypass_csp=True)
    page = context.new_page()
    sign_in(page, app_server.url, staff(app_server.env, "owner"))
    invite_someone(page, app_server.url)
    found = {}
    for path in ("/admin/staff", "/admin/api-keys", "/admin/audit", f"/admin/readers?newsletter={readers_newsletter}"):  # fmt: skip
        page.goto(app_server.url + path)
        found[path] = serious_axe_violations(page)
    assert {path: v for path, v in found.items() if v} == {}
    context.close()
