"""The development outbox viewer: paged, counted, searchable by address, headers and text shown."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest

from service.mail.transports import FileTransport

COUNT = 230


def _message(index: int) -> bytes:
    message = EmailMessage()
    message["From"] = "Daily <newsletter@news.example.org>"
    message["To"] = f"reader{index}@{'gmail.com' if index % 10 == 0 else 'example.net'}"
    message["Subject"] = f"Issue {index}"
    message["List-Unsubscribe"] = f"<https://news.example.org/unsubscribe/t{index}>"
    message.set_content(f"Plain text of issue {index}.")
    message.add_alternative(f"<p>HTML of issue {index}</p>", subtype="html")
    return bytes(message)


@pytest.fixture
def viewer(sqlite_app_with, tmp_path):
    outbox = tmp_path / "outbox"
    transport = FileTransport(outbox)
    for index in range(COUNT):
        transport.send(_message(index), "newsletter@news.example.org", ["x@example.net"])
    app = sqlite_app_with(MAIL_URL=f"file://{outbox}")
    return app.test_client()


def _subjects(html: str) -> list[str]:
    return re.findall(r">(Issue \d+)</a>", html)


def test_the_list_is_paged_and_says_how_many_there_are(viewer):
    first = viewer.get("/dev/outbox").get_data(as_text=True)
    assert "Showing 1–100 of 230 emails." in first
    assert len(_subjects(first)) == 100 and _subjects(first)[0] == f"Issue {COUNT - 1}"
    third = viewer.get("/dev/outbox?page=3").get_data(as_text=True)
    assert "Showing 201–230 of 230 emails." in third
    assert _subjects(third)[-1] == "Issue 0"
    assert 'rel="prev"' in third and 'rel="next"' not in third
    assert viewer.get("/dev/outbox?page=99").status_code == 200  # clamped to the last page


def test_search_by_address(viewer):
    page = viewer.get("/dev/outbox?q=GMAIL.com").get_data(as_text=True)
    assert "23 of 230 emails to an address containing" in page
    assert all(int(s.split()[1]) % 10 == 0 for s in _subjects(page))
    none = viewer.get("/dev/outbox?q=nobody@nowhere").get_data(as_text=True)
    assert "No email to an address containing" in none


def test_one_email_shows_its_headers_and_text_part(viewer):
    listing = viewer.get("/dev/outbox").get_data(as_text=True)
    name = re.search(r'href="/dev/outbox/([^"]+\.eml)"', listing).group(1)
    page = viewer.get(f"/dev/outbox/{name}").get_data(as_text=True)
    assert "List-Unsubscribe" in page and "https://news.example.org/unsubscribe/t229" in page
    assert "Plain text of issue 229." in page
    html = viewer.get(f"/dev/outbox/{name}/html")
    assert html.mimetype == "text/html" and "HTML of issue 229" in html.get_data(as_text=True)
    assert "default-src 'none'" in html.headers["Content-Security-Policy"]


def test_a_name_outside_the_outbox_is_not_found(viewer):
    assert viewer.get("/dev/outbox/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert viewer.get("/dev/outbox/missing.eml").status_code == 404
