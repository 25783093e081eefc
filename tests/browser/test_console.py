"""The staff console in Debian's chromium on the embedded stack (gunicorn, a worker): the first
account made with the CLI, sign in, an editor sends a newsletter and watches the bar move,
pauses, resumes and sees it finish; a viewer has no buttons; no console errors under the page
policy; axe finds nothing serious; screenshots at desktop and phone width."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ROOT, VENV_BIN, serious_axe_violations

PASSWORD = "a long password for the console"
READERS = 40
RATE = 8  # messages per second: the send takes about five seconds, long enough to watch


def newsletter_cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run([str(VENV_BIN / "newsletter"), *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, f"newsletter {' '.join(args)}:\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def slow_newsletter(embed_env, tmp_path_factory) -> str:
    """A newsletter with confirmed readers, sent at a rate a person can watch."""
    slug = f"console-{uuid.uuid4().hex[:6]}"
    newsletter_cli(embed_env, "newsletters", "create", slug, "--name", "Console Daily",
                   "--rate-limit", str(RATE))  # fmt: skip
    readers = tmp_path_factory.mktemp("console") / "readers.csv"
    readers.write_text("email\n" + "".join(f"reader{i}-{slug}@gmail.com\n" for i in range(READERS)))
    newsletter_cli(embed_env, "subscribers", "import", str(readers), "--newsletter", slug,
                   "--consent", "console test")  # fmt: skip
    return slug


@pytest.fixture(scope="module")
def sent_once(app_server, slow_newsletter) -> str:
    """The newsletter after one send of it went out (the CLI waits for it), so the pages that
    list sends have one whatever test runs first. When the editor's test sent it already, its
    articles are used up and a second digest would be skipped: that one is kept."""
    with sqlite3.connect(app_server.database) as connection:
        sent = connection.execute(
            "SELECT count(*) FROM sends JOIN newsletters ON newsletters.id = sends.newsletter_id"
            " WHERE newsletters.slug = ? AND sends.status = 'sent'",
            (slow_newsletter,),
        ).fetchone()[0]
    if not sent:
        newsletter_cli(app_server.env, "digest", "send", slow_newsletter, "--wait")
    return slow_newsletter


def staff(env: dict[str, str], role: str) -> str:
    email = f"{role}-{uuid.uuid4().hex[:6]}@newsroom.example.org"
    out = newsletter_cli(env, "staff", "create", email, "--role", role, stdin=PASSWORD + "\n")
    assert f"created {role} {email}" in out
    return email


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/admin/")
    expect(page).to_have_url(re.compile(r"/admin/sign-in"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def errors_of(page: Page) -> list[str]:
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(str(e)))
    return found


def test_an_editor_sends_watches_pauses_resumes_and_sees_it_finish(
    page, app_server, slow_newsletter, artifacts
):
    errors = errors_of(page)
    sign_in(page, app_server.url, staff(app_server.env, "editor"))
    row = page.get_by_role("row").filter(has_text=slow_newsletter)
    expect(row.get_by_role("cell").nth(0)).to_have_text(str(READERS))
    row.get_by_role("button", name="Send now").click()
    expect(page.get_by_role("heading", name=re.compile(r"Send #\d+"))).to_be_visible()
    bar = page.get_by_role("progressbar")
    expect(bar).not_to_have_attribute("value", "0", timeout=15_000)  # htmx swapped a newer bar
    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".figures")).to_contain_text("paused")
    paused_at = int(bar.get_attribute("value"))
    assert 0 < paused_at < READERS, "the pause came after the send had ended: slow it down"
    page.screenshot(path=str(artifacts / "console-send-paused-1280.png"), full_page=True)
    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".figures")).to_contain_text("sent", timeout=30_000)
    expect(bar).to_have_attribute("value", str(READERS))
    expect(page.get_by_role("row", name=re.compile("Sent"))).to_contain_text(str(READERS))
    assert errors == []


def test_a_viewer_has_no_buttons(page, app_server, sent_once):
    sign_in(page, app_server.url, staff(app_server.env, "viewer"))
    expect(page.get_by_role("button", name="Send now")).to_have_count(0)
    page.get_by_role("link", name=re.compile(r"#\d+")).first.click()
    expect(page.get_by_role("heading", name=re.compile(r"Send #\d+"))).to_be_visible()
    for name in ("Pause", "Resume", "Cancel…"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
        expect(page.get_by_role("link", name=name)).to_have_count(0)


def test_an_editor_imports_a_list_then_finds_a_reader_opens_the_timeline_and_erases_them(
    page, app_server, slow_newsletter, tmp_path, artifacts
):
    errors = errors_of(page)
    sign_in(page, app_server.url, staff(app_server.env, "editor"))
    prefix = f"upload-{uuid.uuid4().hex[:6]}"
    listing = tmp_path / "list.csv"
    listing.write_text("email,name\n" + "".join(f"{prefix}-{n}@gmail.com,R {n}\n" for n in range(3))
                       + "not an address,Nobody\n")  # fmt: skip
    page.get_by_role("link", name="Import").click()
    page.get_by_label("CSV file").set_input_files(str(listing))
    page.get_by_label("Newsletter").select_option(slow_newsletter)
    page.get_by_label("They already agreed (say where below)").check()
    page.get_by_label(re.compile("Where they agreed")).fill("browser test form")
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-live .figures")).to_contain_text("done", timeout=30_000)
    expect(page.get_by_role("heading", name="Rows not imported (1)")).to_be_visible()
    page.screenshot(path=str(artifacts / "console-import-1280.png"), full_page=True)

    page.get_by_role("link", name="Readers", exact=True).click()
    page.get_by_label("Address starts with").fill(f"{prefix}-1")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=f"{prefix}-1@gmail.com").click()
    expect(page.get_by_role("heading", name=f"{prefix}-1@gmail.com")).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("browser test form")  # the consent kept
    expect(page.locator(".timeline")).to_contain_text("→ confirmed (import)")
    page.screenshot(path=str(artifacts / "console-reader-1280.png"), full_page=True)
    page.get_by_role("link", name="Erase this reader…").click()
    page.get_by_role("button", name="Yes, erase").click()
    expect(page.get_by_role("status")).to_contain_text("erased")
    page.get_by_label("Address starts with").fill(f"{prefix}-1")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No reader matches.")).to_be_visible()
    assert errors == []


@pytest.mark.parametrize("width", [1280, 375])
def test_every_page_is_accessible_and_drawn_at_desktop_and_phone_width(
    browser, app_server, sent_once, artifacts, width
):
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(app_server.url + "/admin/sign-in")
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / f"console-sign-in-{width}.png"), full_page=True)
    sign_in(page, app_server.url, staff(app_server.env, "editor"))
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / f"console-dashboard-{width}.png"), full_page=True)
    page.get_by_role("link", name=re.compile(r"#\d+")).first.click()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / f"console-send-{width}.png"), full_page=True)
    context.close()
