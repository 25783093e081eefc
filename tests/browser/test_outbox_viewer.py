"""The development outbox viewer in Chromium (issue 21): a real confirmation email is found with
the search box, its links work in both parts (the text part's and the framed HTML part's, which
opens on top), and each page has a way back.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def sign_up(server, address: str) -> None:
    body = json.dumps({"email": address, "newsletters": ["daily"]}).encode()
    request = urllib.request.Request(
        server.url + "/api/v1/subscriptions",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 202


def wait_for_mail(server, address: str, timeout: float = 30.0) -> None:
    outbox = Path(server.env["MAIL_URL"].removeprefix("file://"))
    deadline = time.monotonic() + timeout
    while not any(address in p.read_text(errors="replace") for p in outbox.glob("*.eml")):
        assert time.monotonic() < deadline, f"no email to {address} in {timeout} s"
        time.sleep(0.2)


@pytest.mark.parametrize("part", ["text", "html"])
def test_find_the_email_and_follow_its_link_from_either_part(page, app_server, part):
    address = f"reader.{uuid.uuid4().hex[:10]}@gmail.com"
    sign_up(app_server, address)
    wait_for_mail(app_server, address)
    page.goto(app_server.url + "/dev/outbox")
    search = page.get_by_label("Search by address or subject")
    assert search.bounding_box()["width"] >= 250  # room to type an address
    search.fill(address.split("@")[0])
    search.press("Enter")
    page.get_by_role("link", name="Confirm your subscription").first.click()
    expect(page.locator("h1")).to_contain_text("Confirm your subscription")
    if part == "text":
        page.locator("#text-part a").first.click()
    else:
        frame = page.frame_locator("#html-part")
        frame.get_by_role("link", name="Confirm subscription").click()
    expect(page.get_by_role("button", name="Confirm my subscription")).to_be_visible()
    assert "/confirm/" in page.url  # on top, not inside the frame
    page.go_back()
    page.get_by_role("link", name="← Outbox").click()
    expect(page.get_by_label("Search by address or subject")).to_have_value(address.split("@")[0])
    page.get_by_role("link", name="← Demo article").click()
    expect(page.locator("h1")).to_contain_text("night trains")
