"""Articles and the suppression list in the console on the real stack: articles filtered by
section and time and paged as the API pages them; an editor blocks an address with a reason and lifts it saying why
(both in the audit log as the member, the same entries the API lists); bad input is said on
the page, never a 500; a viewer reads and is refused every change."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from service.extensions import db
from service.leaving.suppression_list import find
from service.models import Article, AuditEvent, Suppression
from tests.functional.test_console import member, sign_in, token


def article(section: str, published: datetime) -> Article:
    row = Article(url=f"https://news.example.org/{uuid.uuid4().hex}", title=f"Story {uuid.uuid4().hex[:6]}",
                  section=section, published_at=published)  # fmt: skip
    db.session.add(row)
    db.session.commit()
    return row


def test_articles_are_filtered_by_section_and_time_and_paged(console):
    section = f"s-{uuid.uuid4().hex[:6]}"
    day = datetime(2026, 3, 10, 12, tzinfo=UTC)
    latest = article(section, day + timedelta(days=5))
    inside = [article(section, day) for _ in range(51)]
    before = article(section, day - timedelta(days=2))
    elsewhere = article(f"other-{section}", day)
    sign_in(console, member("viewer").email)
    first = console.get(f"/admin/articles?section={section}&published_after=2026-03-09&published_before=2026-03-11")  # fmt: skip
    assert first.status_code == 200 and section.encode() in first.data
    titles = set(re.findall(rb">(Story \w+)</a>", first.data))
    assert len(titles) == 50 and before.title.encode() not in titles
    assert elsewhere.title.encode() not in first.data
    more = re.search(rb'href="(/admin/articles\?[^"]+)"', first.data.replace(b"&amp;", b"&"))
    second = console.get(more.group(1).decode())
    rest = set(re.findall(rb">(Story \w+)</a>", second.data))
    assert titles | rest == {a.title.encode() for a in inside}
    newest_first = console.get(f"/admin/articles?section={section}")
    first_titles = re.findall(rb">(Story \w+)</a>", newest_first.data)
    assert first_titles[0] == latest.title.encode()  # newest published, though stored first
    bad = console.get("/admin/articles?published_after=last+week")
    assert bad.status_code == 400 and b"must be an RFC 3339 time or a date" in bad.data
    forged = console.get("/admin/articles?cursor=not-a-cursor")
    assert forged.status_code == 400 and b"cursor is not one this list gave" in forged.data


def test_an_editor_blocks_an_address_and_lifts_it_saying_why(console):
    editor = member("editor")
    sign_in(console, editor.email)
    page = console.get("/admin/suppressions")
    address = f"Blocked.{uuid.uuid4().hex[:8]}@gmail.com"
    added = console.post("/admin/suppressions", data={"email": address, "reason": "spam_trap",
                         "detail": "reported by the desk", "csrf_token": token(page.data)})  # fmt: skip
    assert added.status_code == 302
    entry = find(address.lower())
    assert entry is not None and entry.reason == "spam_trap"
    listed = console.get("/admin/suppressions")
    assert b"spam_trap" in listed.data and address.encode() not in listed.data
    checked = console.get(f"/admin/suppressions?email={address}")
    assert f"Suppressed: entry {entry.id}.".encode() in checked.data
    twice = console.post("/admin/suppressions", data={"email": address, "reason": "manual",
                         "csrf_token": token(page.data)})  # fmt: skip
    assert b"already suppressed" in console.get(twice.location).data
    no_why = console.post(f"/admin/suppressions/{entry.id}/remove", data={"why": "  ", "csrf_token": token(page.data)})  # fmt: skip
    assert b"reason is required" in console.get(no_why.location).data
    assert find(address.lower()) is not None
    lifted = console.post(f"/admin/suppressions/{entry.id}/remove",
                          data={"why": "the reader asked again", "csrf_token": token(page.data)})  # fmt: skip
    assert lifted.status_code == 302 and find(address.lower()) is None
    events = db.session.scalars(select(AuditEvent.event).where(
        AuditEvent.target == f"suppression:{entry.id}", AuditEvent.actor == editor.email)).all()  # fmt: skip
    assert set(events) == {"suppression.added", "suppression.removed"}
    gone = console.post(f"/admin/suppressions/{entry.id}/remove", data={"why": "again", "csrf_token": token(page.data)})  # fmt: skip
    assert b"No suppression" in console.get(gone.location).data


def test_bad_addresses_and_reasons_are_said_next_to_the_field(console):
    sign_in(console, member("editor").email)
    page = console.get("/admin/suppressions")
    bad = console.post("/admin/suppressions", data={"email": "not-an-address", "reason": "manual", "csrf_token": token(page.data)})  # fmt: skip
    assert bad.status_code == 422 and b'id="f-email-error">Not an acceptable address' in bad.data
    reason = console.post("/admin/suppressions", data={"email": f"x.{uuid.uuid4().hex[:6]}@gmail.com",
                          "reason": "two words", "csrf_token": token(page.data)})  # fmt: skip
    assert reason.status_code == 422 and b'id="f-reason-error">reason is 1 to 32' in reason.data


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(email=st.text(max_size=60), reason=st.text(max_size=40), detail=st.text(max_size=60))
def test_any_typed_block_is_stored_as_given_or_refused_on_the_page(console, email, reason, detail):
    if console.get("/admin/suppressions").status_code != 200:  # the first example signs in
        sign_in(console, member("editor").email)
    page = console.get("/admin/suppressions")
    answer = console.post("/admin/suppressions", data={"email": email, "reason": reason, "detail": detail,
                          "csrf_token": token(page.data)})  # fmt: skip
    assert answer.status_code in (302, 400, 422)
    if answer.status_code == 422:
        assert (
            b'class="error"' in answer.data and b"<script" not in answer.data.split(b"</head>")[1]
        )


def test_a_viewer_reads_the_lists_but_may_not_change_them(console):
    row = Suppression(email_hash=uuid.uuid4().hex * 2, reason="manual", detail="")
    db.session.add(row)
    db.session.commit()
    sign_in(console, member("viewer").email)
    page = console.get("/admin/suppressions")
    assert page.status_code == 200 and b"Block an address" not in page.data
    csrf = token(page.data)
    assert console.post("/admin/suppressions", data={"email": "a@gmail.com", "reason": "manual", "csrf_token": csrf}).status_code == 403  # fmt: skip
    assert console.post(f"/admin/suppressions/{row.id}/remove", data={"why": "x", "csrf_token": csrf}).status_code == 403  # fmt: skip
    db.session.expire_all()
    assert db.session.get(Suppression, row.id) is not None
    assert console.get("/admin/articles").status_code == 200
