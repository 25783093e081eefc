"""Sends and the digest in the console on the real stack (a worker, an SMTP relay): an editor
schedules a one-off send at a local time read in the newsletter's time zone and finds it in
the filtered, paged list; a time in the past or a newsletter with nobody to mail is said next
to the field; the digest preview is served under a policy of its own and darkened on request;
a test copy reaches the member's own address; a viewer is refused every change."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from service.extensions import db
from service.models import AuditEvent, Send
from service.staff import accounts
from tests.functional.test_console import PASSWORD, member, sign_in, token
from tests.functional.test_sending import fresh_article
from tests.support.readers import add_reader


def test_an_editor_schedules_a_send_at_a_local_time_and_finds_it_listed(console, newsletter):
    nl = newsletter(timezone="America/New_York")
    add_reader(nl)
    editor = member("editor")
    sign_in(console, editor.email)
    page = console.get("/admin/sends")
    assert page.status_code == 200 and b'type="datetime-local"' in page.data
    local = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=2)).replace(
        hour=7, minute=30, second=0, microsecond=0
    )
    done = console.post("/admin/sends", data={"newsletter": nl.slug,
                        "when": local.strftime("%Y-%m-%dT%H:%M"), "csrf_token": token(page.data)})  # fmt: skip
    assert done.status_code == 302
    db.session.expire_all()
    send = db.session.scalar(select(Send).where(Send.newsletter_id == nl.id))
    assert send.status == "scheduled"
    assert send.scheduled_at == local.astimezone(UTC)  # 07:30 in New York, not in UTC
    listed = console.get(done.location)
    text = listed.get_data(as_text=True)
    assert f"#{send.id}" in text and "07:30 (America/New_York)" in text
    assert "scheduled for" in text  # the flash names the time in the newsletter's zone
    actor = db.session.scalar(select(AuditEvent.actor).where(
        AuditEvent.event == "send.started", AuditEvent.target == f"send:{send.id}"))  # fmt: skip
    assert actor == editor.email
    again = console.post("/admin/sends", data={"newsletter": nl.slug, "when": "",
                                               "csrf_token": token(listed.data)})  # fmt: skip
    assert again.status_code == 409 and f"(#{send.id})".encode() in again.data


def test_a_past_time_or_nobody_to_mail_is_said_next_to_the_field(console, newsletter):
    empty = newsletter()
    nl = newsletter(timezone="Europe/Kyiv")
    add_reader(nl)
    sign_in(console, member("editor").email)
    page = console.get("/admin/sends")
    past = console.post("/admin/sends", data={"newsletter": nl.slug, "when": "2020-01-01T07:00",
                                              "csrf_token": token(page.data)})  # fmt: skip
    assert past.status_code == 422
    assert re.search(rb'id="s-when-error">[^<]*is in the past', past.data)
    assert b'value="2020-01-01T07:00"' in past.data
    garbage = console.post("/admin/sends", data={"newsletter": nl.slug, "when": "soon",
                                                 "csrf_token": token(page.data)})  # fmt: skip
    assert garbage.status_code == 422 and b"is not an ISO 8601 time" in garbage.data
    nobody = console.post("/admin/sends", data={"newsletter": empty.slug, "when": "",
                                                "csrf_token": token(page.data)})  # fmt: skip
    assert nobody.status_code == 422 and b'id="s-newsletter-error">Nobody to send to' in nobody.data
    unknown = console.post("/admin/sends", data={"newsletter": "no-such", "csrf_token": token(page.data)})  # fmt: skip
    assert unknown.status_code == 422
    db.session.expire_all()
    assert db.session.scalar(select(Send).where(Send.newsletter_id.in_([nl.id, empty.id]))) is None


def test_the_list_filters_by_newsletter_and_status_and_pages(console, newsletter):
    nl, other = newsletter(), newsletter()
    for status in ["sent"] * 52 + ["cancelled"]:
        db.session.add(Send(newsletter_id=nl.id, status=status, total=1, sent=1))
    db.session.add(Send(newsletter_id=other.id, status="sent", total=1))
    db.session.commit()
    sign_in(console, member("viewer").email)
    first = console.get(f"/admin/sends?newsletter={nl.slug}&status=sent")
    ids = [int(i) for i in re.findall(rb'href="/admin/sends/(\d+)"', first.data)]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    more = re.search(rb'href="(/admin/sends\?[^"]+)"', first.data.replace(b"&amp;", b"&"))
    second = console.get(more.group(1).decode())
    rest = [int(i) for i in re.findall(rb'href="/admin/sends/(\d+)"', second.data)]
    assert len(rest) == 2 and max(rest) < min(ids)
    cancelled = console.get(f"/admin/sends?newsletter={nl.slug}&status=cancelled")
    assert len(re.findall(rb'href="/admin/sends/\d+"', cancelled.data)) == 1
    assert console.get("/admin/sends?status=nonsense&before=99999999999999999999").status_code == 200  # fmt: skip
    assert b"Schedule a send" not in first.data  # a viewer has no form


def test_a_viewer_may_not_schedule_or_test_send(console, newsletter):
    nl = newsletter()
    add_reader(nl)
    sign_in(console, member("viewer").email)
    page = console.get("/admin/sends")
    csrf = token(page.data)
    assert console.post("/admin/sends", data={"newsletter": nl.slug, "csrf_token": csrf}).status_code == 403  # fmt: skip
    assert console.post(f"/admin/newsletters/{nl.slug}/test-send", data={"csrf_token": csrf}).status_code == 403  # fmt: skip
    db.session.expire_all()
    assert db.session.scalar(select(Send).where(Send.newsletter_id == nl.id)) is None


def test_the_digest_preview_is_framed_under_its_own_policy_and_darkened(console, newsletter):
    nl = newsletter()
    article = fresh_article()
    sign_in(console, member("viewer").email)
    page = console.get(f"/admin/newsletters/{nl.slug}/digest")
    assert page.status_code == 200
    frames = re.findall(rb'<iframe sandbox src="([^"]+)"', page.data)
    assert len(frames) == 3 and b"Send a test" not in page.data
    light = console.get(frames[0].decode().replace("&amp;", "&"))
    policy = light.headers["Content-Security-Policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy and "sandbox" in policy
    assert "frame-ancestors 'self'" in policy and light.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert article.title.encode() in light.data and b"@media not all" in light.data
    dark = console.get(frames[2].decode().replace("&amp;", "&"))
    assert b"@media all" in dark.data and b"prefers-color-scheme" not in dark.data
    uk = console.get(f"/admin/newsletters/{nl.slug}/digest.html?locale=uk")
    assert uk.status_code == 200 and b'lang="uk"' in uk.data
    assert console.get(f"/admin/newsletters/{nl.slug}/digest.html?locale=xx").status_code == 422


def test_a_test_copy_goes_to_the_members_own_address(console, newsletter, smtp):
    nl = newsletter()
    fresh_article()
    address = f"editor.{uuid.uuid4().hex[:10]}@gmail.com"
    accounts.create_member(address, "editor", PASSWORD)
    db.session.commit()
    sign_in(console, address)
    page = console.get(f"/admin/newsletters/{nl.slug}/digest")
    assert f'name="email" value="{address}"'.encode() in page.data  # their own, to start with
    sent = console.post(f"/admin/newsletters/{nl.slug}/test-send", data={"csrf_token": token(page.data), "locale": "en"})  # fmt: skip
    assert sent.status_code == 302
    assert b"on its way to" in console.get(sent.location).data
    message = smtp.wait_for_recipient(address, timeout=30)[0].message
    assert message["Subject"].startswith("[TEST] ") and message["X-Digest-Test"] == "1"
