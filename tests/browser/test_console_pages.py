"""The console's newsletter, send, digest, article and suppression pages in Debian's chromium
on the embedded stack (gunicorn, a worker, the demo data): an editor schedules a send at a
local time and finds it listed in the newsletter's time zone; the newsletter form shows the
next runs and follows the schedule as it is typed (htmx under the page policy); the live box
and the digest previews draw in their frames; no console errors; axe finds nothing serious;
every page drawn at desktop and phone width into test-artifacts/."""

from __future__ import annotations

import re
import struct
import uuid
import zlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import serious_axe_violations
from tests.browser.test_console import errors_of, newsletter_cli, staff
from tests.browser.test_console import sign_in as console_sign_in

ZONE = "America/New_York"


# The demo articles' pictures come from picsum.photos; this machine has no network, so the
# browser is handed a plain grey picture of the same shape (a failed load is a console error).
def grey_picture(width: int = 160, height: int = 90) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xa0" * width for _ in range(height))  # 8-bit grey
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")  # fmt: skip


PIXEL = grey_picture()


def offline_pictures(context) -> None:
    context.route("https://picsum.photos/**",
                  lambda route: route.fulfill(status=200, content_type="image/png", body=PIXEL))  # fmt: skip


@pytest.fixture(scope="module")
def zoned_newsletter(embed_env, tmp_path_factory) -> str:
    """A newsletter in New York time with a few confirmed readers."""
    slug = f"zoned-{uuid.uuid4().hex[:6]}"
    newsletter_cli(embed_env, "newsletters", "create", slug, "--name", "Evening Zone",
                   "--timezone", ZONE, "--schedule", "0 18 * * 1-5")  # fmt: skip
    readers = tmp_path_factory.mktemp("zoned") / "readers.csv"
    readers.write_text("email\n" + "".join(f"r{i}-{slug}@gmail.com\n" for i in range(3)))
    newsletter_cli(embed_env, "subscribers", "import", str(readers), "--newsletter", slug,
                   "--consent", "console test")  # fmt: skip
    return slug


def test_an_editor_schedules_a_send_at_a_local_time_and_sees_it_listed(
    page: Page, app_server, zoned_newsletter, artifacts
):
    errors = errors_of(page)
    console_sign_in(page, app_server.url, staff(app_server.env, "editor"))
    page.get_by_role("link", name="Sends", exact=True).click()
    expect(page.get_by_role("heading", name="Schedule a send")).to_be_visible()
    page.get_by_label("Newsletter", exact=True).select_option(zoned_newsletter)
    day = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=3)
    page.get_by_label("When (in the newsletter's time zone)").fill(f"{day.isoformat()}T06:45")
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.locator(".flash")).to_contain_text(f"06:45 ({ZONE})")
    row = page.locator("table.sends tbody tr").first
    expect(row).to_contain_text("Evening Zone")
    expect(row).to_contain_text(f"{day.day} ")
    expect(row).to_contain_text(f"06:45 ({ZONE})")
    expect(row).to_contain_text("scheduled")
    page.screenshot(path=str(artifacts / "console-sends-scheduled-1280.png"), full_page=True)
    assert errors == []


def test_the_newsletter_form_shows_the_next_runs_and_follows_the_schedule(
    page: Page, app_server, zoned_newsletter
):
    errors = errors_of(page)
    console_sign_in(page, app_server.url, staff(app_server.env, "editor"))
    page.get_by_role("link", name="Newsletters", exact=True).click()
    page.get_by_role("link", name="Evening Zone").click()
    runs = page.locator("#next-runs li")
    expect(runs).to_have_count(5)
    for text in runs.all_inner_texts():
        assert re.fullmatch(rf"(Mon|Tue|Wed|Thu|Fri) \d{{1,2}} \w{{3}}, 18:00 \({ZONE}\)", text)
    schedule = page.get_by_label("Schedule (cron: minute hour day month weekday)")
    schedule.fill("15 9 * * 6")  # htmx asks for the new runs as it is typed
    expect(runs.first).to_contain_text(f"09:15 ({ZONE})")
    expect(runs.first).to_contain_text("Sat")
    schedule.fill("15 9 *")
    expect(page.locator("#next-runs")).to_contain_text("not valid yet")
    schedule.fill("0 6 * * *")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".flash")).to_contain_text("saved")
    expect(runs.first).to_contain_text(f"06:00 ({ZONE})")
    box = page.frame_locator("iframe[title='Signup box preview']")
    expect(box.get_by_role("button").first).to_be_visible()
    assert errors == []


PAGES = (
    ("newsletters", "/admin/newsletters"),
    ("newsletter-new", "/admin/newsletters/new"),
    ("newsletter-edit", "/admin/newsletters/daily"),
    ("sends", "/admin/sends"),
    ("digest-preview", "/admin/newsletters/daily/digest"),
    ("articles", "/admin/articles"),
    ("suppressions", "/admin/suppressions"),
)


def walk(page: Page, base: str, visit) -> None:
    for name, path in PAGES:
        page.goto(base + path)
        expect(page.locator("h1")).to_be_visible()
        visit(name)


@pytest.mark.parametrize("width", [1280, 375])
def test_every_new_page_is_accessible_and_drawn_at_desktop_and_phone_width(
    browser, app_server, zoned_newsletter, artifacts, width
):
    editor = staff(app_server.env, "editor")
    context = browser.new_context(viewport={"width": width, "height": 900})
    offline_pictures(context)
    page = context.new_page()
    errors = errors_of(page)  # under the page policy: a blocked script or frame is an error
    console_sign_in(page, app_server.url, editor)

    def draw(name: str) -> None:
        if name == "digest-preview":
            for title in ("desktop width", "phone width", "dark mode"):
                frame = page.frame_locator(f"iframe[title='The digest at {title}'], iframe[title='The digest in {title}']")  # fmt: skip
                expect(frame.locator("body")).to_contain_text("Unsubscribe", ignore_case=True)
            # Chromium paints a sandboxed (cross-origin) frame only while it is on screen:
            # the whole page is put on screen for its picture.
            page.set_viewport_size({"width": width, "height": 3200 if width < 700 else 2000})
            page.wait_for_timeout(500)
        if name == "newsletter-edit":
            box = page.frame_locator("iframe[title='Signup box preview']")
            expect(box.locator("input[type=email]").first).to_be_attached()
        page.screenshot(path=str(artifacts / f"console-{name}-{width}.png"), full_page=True)
        page.set_viewport_size({"width": width, "height": 900})

    walk(page, app_server.url, draw)
    assert errors == []
    context.close()
    # axe-core is added as an inline script, which the console's policy refuses: a context
    # that bypasses the policy runs it (as tests/browser/test_console.py does).
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    offline_pictures(context)
    page = context.new_page()
    console_sign_in(page, app_server.url, editor)
    found: dict[str, list] = {}
    walk(page, app_server.url, lambda name: found.update({name: serious_axe_violations(page)}))
    assert {name: v for name, v in found.items() if v} == {}
    context.close()
