"""The development outbox viewer: paged, counted, searchable by address or subject, headers,
text part with clickable links, HTML part framed with links that open on top, a way back."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.http.demo import linked
from service.mail.transports import FileTransport

COUNT = 230


def _message(index: int) -> bytes:
    message = EmailMessage()
    message["From"] = "Daily <newsletter@news.example.org>"
    message["To"] = f"reader{index}@{'gmail.com' if index % 10 == 0 else 'example.net'}"
    message["Subject"] = f"Issue {index}"
    message["List-Unsubscribe"] = f"<https://news.example.org/unsubscribe/t{index}>"
    message.set_content(
        f"Plain text of issue {index}.\nSee https://news.example.org/issues/{index}?utm=x&y=1."
    )
    message.add_alternative(
        f"<html><head></head><body><p>HTML of issue {index}</p></body></html>", subtype="html"
    )
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
    assert "23 of 230 emails to an address or with a subject containing" in page
    assert all(int(s.split()[1]) % 10 == 0 for s in _subjects(page))
    none = viewer.get("/dev/outbox?q=nobody@nowhere").get_data(as_text=True)
    assert "No email to an address or with a subject containing" in none


def test_search_by_subject_and_a_usable_box(viewer):
    page = viewer.get("/dev/outbox?q=issue 22").get_data(as_text=True)
    assert sorted(_subjects(page)) == sorted(["Issue 22", *(f"Issue {n}" for n in range(220, 230))])
    assert '<label for="q">Search by address or subject</label>' in page
    assert 'type="search" id="q" name="q" value="issue 22"' in page
    assert ".find input[type=search]" in page  # sized like the other fields, not the default
    assert 'id="show-all" href' not in page and '<a href="/dev/outbox" id="show-all">' in page


def test_a_way_back_at_each_step(viewer):
    listing = viewer.get("/dev/outbox?q=example&page=2").get_data(as_text=True)
    assert '<a href="/" id="back">' in listing  # to the demo article
    link = re.search(r'href="/dev/outbox/([^"?]+\.eml)\?q=example&amp;page=2"', listing)
    page = viewer.get(f"/dev/outbox/{link.group(1)}?q=example&page=2").get_data(as_text=True)
    assert '<a href="/dev/outbox?q=example&amp;page=2" id="back">' in page  # the list as it was
    first = viewer.get(f"/dev/outbox/{link.group(1)}").get_data(as_text=True)
    assert '<a href="/dev/outbox" id="back">' in first


def test_links_are_clickable_in_both_parts(viewer):
    listing = viewer.get("/dev/outbox").get_data(as_text=True)
    name = re.search(r'href="/dev/outbox/([^"]+\.eml)"', listing).group(1)
    page = viewer.get(f"/dev/outbox/{name}").get_data(as_text=True)
    url = "https://news.example.org/issues/229?utm=x&amp;y=1"
    assert f'See <a href="{url}">{url}</a>.' in page  # the full stop is not part of it
    frame = re.search(r'<iframe id="html-part"[^>]*>', page, re.S).group()
    assert f'src="/dev/outbox/{name}/html"' in frame
    assert 'sandbox="allow-top-navigation-by-user-activation' in frame  # no scripts, no forms
    html = viewer.get(f"/dev/outbox/{name}/html").get_data(as_text=True)
    assert '<head><base target="_top">' in html  # a click leaves the frame, as in a mail client


_PIECE = st.sampled_from([*"ab <>&\"'.,)\n:/", "http://", "https://x.org", "é"])


@settings(max_examples=300, deadline=None)
@given(text=st.lists(_PIECE, max_size=20).map("".join))
def test_text_part_pieces_are_the_text_and_links_are_only_http(text):
    pieces = linked(text)
    assert "".join(piece for piece, _ in pieces) == text
    for piece, link in pieces:
        if link:
            assert piece.startswith(("http://", "https://")) and len(piece) > len("http://")
            assert not set(piece) & set(" \n<>\"'") and piece[-1] not in ".,)"


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
