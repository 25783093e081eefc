"""The send commands explain themselves: times, schedules, sends list/show, digest test.

Issue 13 item 5 (`--at` and cron input) and issue 14's "Sends" items, through click's runner
and, where the traceback showed, as a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from service.extensions import db
from service.models import Delivery, Newsletter, Send, SendStatus, Subscriber, utcnow
from service.sending import scheduling
from tests.conftest import ROOT, unique_email
from tests.functional.test_sending import FINAL, fresh_article, reader, received, wait_status

AUTH = "Authorization"
NEXT_YEAR = utcnow().year + 1
NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))  # the installed ops command


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def only_send(news: Newsletter) -> Send:
    db.session.commit()
    return db.session.scalars(select(Send).where(Send.newsletter_id == news.id)).one()


# --- digest send --at -------------------------------------------------------------------


def test_at_tomorrow_is_a_clear_error_not_a_traceback(stack, app, newsletter):
    news = newsletter()
    process = subprocess.run(
        [NEWSLETTER, "digest", "send", news.slug, "--at", "tomorrow"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr + process.stdout
    assert "Invalid value for --at" in process.stderr
    assert "'tomorrow' is not an ISO 8601 time" in process.stderr
    assert "2026-12-01T07:00 (read in Europe/Kyiv)" in process.stderr
    db.session.commit()
    assert db.session.scalars(select(Send).where(Send.newsletter_id == news.id)).all() == []


def test_at_in_the_past_is_refused(app, newsletter):
    news = newsletter(timezone="Europe/Kyiv")
    past = (utcnow() - timedelta(hours=2)).isoformat()
    result = run(app, "digest", "send", news.slug, "--at", past)
    assert result.exit_code == 2
    assert "is in the past" in result.output and "or none to send now" in result.output
    assert db.session.scalars(select(Send).where(Send.newsletter_id == news.id)).all() == []


def test_at_without_a_zone_is_the_newsletters_zone(app, newsletter):
    news = newsletter(timezone="Europe/Kyiv")
    reader(news)
    result = run(app, "digest", "send", news.slug, "--at", f"{NEXT_YEAR}-01-15T07:00")
    assert result.exit_code == 0, result.output
    assert f"scheduled at {NEXT_YEAR}-01-15 07:00 Europe/Kyiv (05:00 UTC)" in result.output
    assert only_send(news).scheduled_at == datetime(NEXT_YEAR, 1, 15, 5, 0, tzinfo=UTC)


def test_api_reads_scheduled_at_in_the_newsletters_zone_and_refuses_the_past(
    client, api_key, newsletter
):
    news = newsletter(timezone="America/New_York")
    reader(news)
    headers = {AUTH: f"Bearer {api_key}"}
    url = f"/api/v1/newsletters/{news.slug}/sends"
    past = client.post(url, json={"scheduled_at": "2020-01-01T07:00"}, headers=headers)
    assert past.status_code == 422 and past.get_json()["field"] == "scheduled_at"
    assert "in the past" in past.get_json()["message"]
    made = client.post(url, json={"scheduled_at": f"{NEXT_YEAR}-07-01T07:00"}, headers=headers)
    assert made.status_code == 201
    assert only_send(news).scheduled_at == datetime(NEXT_YEAR, 7, 1, 11, 0, tzinfo=UTC)


def test_a_second_digest_send_says_which_send_and_exits_1(app, newsletter):
    news = newsletter()
    reader(news)
    later = f"{NEXT_YEAR}-03-01T09:00+00:00"
    assert run(app, "digest", "send", news.slug, "--at", later).exit_code == 0
    first = only_send(news)
    result = run(app, "digest", "send", news.slug)
    assert result.exit_code == 1
    assert f"not sent: send {first.id} of this newsletter is scheduled" in result.output
    assert f"`newsletter sends show {first.id} --wait`" in result.output
    assert f"`newsletter sends cancel {first.id}`" in result.output
    assert only_send(news).id == first.id


# --- schedules: five cron fields, everywhere ---------------------------------------------


@pytest.mark.parametrize("cron", ["0 0 7 * * *", "0 7 * * * 2027", "0 7 * *"])
def test_a_schedule_that_is_not_five_fields_is_refused(app, client, api_key, newsletter, cron):
    headers = {AUTH: f"Bearer {api_key}"}
    slug = f"cron-{uuid.uuid4().hex[:6]}"
    created = client.post(
        "/api/v1/newsletters",
        json={"slug": slug, "name": "Cron", "schedule": cron},
        headers=headers,
    )
    assert created.status_code == 422, created.get_json()
    body = created.get_json()
    assert (body["code"], body["field"]) == ("invalid_cron", "schedule")
    assert f"has {len(cron.split())} fields; it needs 5" in body["message"]
    news = newsletter(schedule_cron="0 7 * * *")
    patched = client.patch(
        f"/api/v1/newsletters/{news.slug}", json={"schedule": cron}, headers=headers
    )
    assert patched.status_code == 422 and patched.get_json()["code"] == "invalid_cron"
    db.session.refresh(news)
    assert news.schedule_cron == "0 7 * * *"
    result = run(app, "newsletters", "create", slug, "--name", "Cron", "--schedule", cron)
    assert result.exit_code == 2 and "Invalid value for --schedule" in result.output
    assert db.session.scalar(select(Newsletter).where(Newsletter.slug == slug)) is None


def test_five_fields_are_accepted(client, api_key):
    slug = f"cron-{uuid.uuid4().hex[:6]}"
    created = client.post(
        "/api/v1/newsletters",
        json={"slug": slug, "name": "Cron", "schedule": "0  7 * * 1-5"},
        headers={AUTH: f"Bearer {api_key}"},
    )
    assert created.status_code == 201 and created.get_json()["schedule"] == "0 7 * * 1-5"


def test_beat_ignores_a_stored_six_field_schedule_with_a_warning(app, newsletter, service_log):
    news = newsletter(schedule_cron="0 0 7 * * *")
    news.created_at = utcnow() - timedelta(days=40)
    db.session.commit()
    assert scheduling.create_cron_sends(only=[news.id]) == 0
    assert any(
        f"newsletter {news.id}: bad schedule '0 0 7 * * *'" in r.getMessage()
        for r in service_log.records
    )


# --- sends list / show -------------------------------------------------------------------


def test_sends_list_with_no_sends_says_how_to_start_one(sqlite_app):
    result = run(sqlite_app, "sends", "list")
    assert result.exit_code == 0
    assert result.output.strip() == (
        "no sends yet; start one with `newsletter digest send SLUG` "
        "(slugs: `newsletter newsletters list`)"
    )


def test_sends_list_has_a_header_and_show_gives_rate_and_duration(sqlite_app):
    news = Newsletter(slug="daily", name="Daily")
    db.session.add(news)
    db.session.commit()
    finished = utcnow()
    send = Send(
        newsletter_id=news.id,
        status=SendStatus.SENT,
        total=500,
        sent=498,
        failed=2,
        scheduled_at=finished - timedelta(seconds=101),
        started_at=finished - timedelta(seconds=100),
        finished_at=finished,
    )
    db.session.add(send)
    db.session.commit()
    listed = run(sqlite_app, "sends", "list")
    assert listed.exit_code == 0
    header, row = listed.output.splitlines()
    assert header.split() == ["ID", "NEWSLETTER", "STATUS", "DONE/TOTAL", "SCHEDULED", "(UTC)"]
    assert row.split()[:4] == [str(send.id), "daily", "sent", "500/500"]
    shown = run(sqlite_app, "sends", "show", str(send.id))
    assert shown.exit_code == 0
    assert "500/500 done (sent 498, failed 2, skipped 0), 5.0/s on average, took 1m 40s" in (
        shown.output
    )
    assert "0/s" not in shown.output.replace("5.0/s", "")
    assert "status: sent" in shown.output


def test_sends_show_of_a_running_send_gives_its_pace_so_far(sqlite_app):
    news = Newsletter(slug="weekly", name="Weekly")
    db.session.add(news)
    db.session.commit()
    send = Send(
        newsletter_id=news.id,
        status=SendStatus.SENDING,
        total=10000,
        sent=3000,
        started_at=utcnow() - timedelta(minutes=10),
    )
    db.session.add(send)
    db.session.commit()
    shown = run(sqlite_app, "sends", "show", str(send.id))
    assert shown.exit_code == 0
    assert "3000/10000 done" in shown.output and "5.0/s on average, running for 10m" in (
        shown.output
    )
    assert "waiting: 7000" in shown.output and "defer_reason: None" in shown.output


def test_sends_show_of_a_paused_send_says_paused_and_why_readers_wait(sqlite_app):
    news = Newsletter(slug="paused", name="Paused")
    db.session.add(news)
    db.session.commit()
    send = Send(
        newsletter_id=news.id,
        status=SendStatus.PAUSED,
        total=10,
        sent=4,
        started_at=utcnow() - timedelta(seconds=19),
    )
    db.session.add(send)
    db.session.commit()
    deferred = Subscriber(
        email="deferred@example.org", email_ascii="deferred@example.org", email_key="k" * 40
    )
    db.session.add(deferred)
    db.session.commit()
    answer = "451 4.3.0 mailbox busy, try later"
    db.session.add(
        Delivery(send_id=send.id, subscriber_id=deferred.id, status="queued", response=answer)
    )
    db.session.commit()
    shown = run(sqlite_app, "sends", "show", str(send.id))
    assert shown.exit_code == 0
    assert "4/10 done" in shown.output and "paused" in shown.output
    assert "running for" not in shown.output
    assert "waiting: 6" in shown.output and f"defer_reason: {answer}" in shown.output


# --- digest test -------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["foo@", "foo@localhost", "foo@example.org", "a b@gmail.com"])
def test_digest_test_checks_the_address_first(app, newsletter, smtp, address):
    news = newsletter(min_new_articles=100000)  # and nothing to test: the address comes first
    result = run(app, "digest", "test", news.slug, address)
    assert result.exit_code == 1
    assert f"{address}: not a deliverable address" in result.output
    assert smtp.messages == []


def test_digest_test_after_a_send_mails_a_copy_of_the_last_issue(app, newsletter, smtp):
    news = newsletter()
    fresh_article()
    readers = [reader(news) for _ in range(2)]
    sent = run(app, "digest", "send", news.slug, "--wait")
    assert sent.exit_code == 0, sent.output
    issue = only_send(news)
    assert len(received(smtp, [r.email for r in readers])) == 2
    address = unique_email()
    result = run(app, "digest", "test", news.slug, address)
    assert result.exit_code == 0, result.output
    assert (
        f"test digest sent to {address} (the last issue, send {issue.id}: nothing new since)"
        in (result.output)
    )
    [copy] = smtp.wait_for_recipient(address)
    assert copy.message["Subject"] == f"[TEST] {issue.subject}"
    assert copy.message["X-Digest-Test"] == "1"
    assert [
        s.id for s in db.session.scalars(select(Send).where(Send.newsletter_id == news.id))
    ] == [issue.id]


def test_digest_test_of_the_next_digest_says_so(app, newsletter, smtp):
    news = newsletter()
    fresh_article()
    address = unique_email()
    result = run(app, "digest", "test", news.slug, address)
    assert result.exit_code == 0, result.output
    assert f"test digest sent to {address} (the next digest)" in result.output
    assert smtp.wait_for_recipient(address)[0].message["Subject"].startswith("[TEST] ")


def test_digest_test_with_nothing_at_all_says_what_to_do(app, newsletter, smtp):
    news = newsletter(filters={"sections": [f"none-{uuid.uuid4().hex}"]})
    result = run(app, "digest", "test", news.slug, unique_email())
    assert result.exit_code == 1
    assert "nothing to test: " in result.output and "articles import-feed" in result.output
    assert smtp.messages == []


def test_api_test_send_after_a_send_queues_the_last_issue(client, api_key, newsletter, smtp):
    news = newsletter()
    fresh_article()
    reader(news)
    headers = {AUTH: f"Bearer {api_key}"}
    made = client.post(f"/api/v1/newsletters/{news.slug}/sends", json={}, headers=headers)
    assert wait_status(client, api_key, made.get_json()["id"], FINAL)["status"] == "sent"
    address = unique_email()
    queued = client.post(
        f"/api/v1/digest-preview/{news.slug}/test", json={"email": address}, headers=headers
    )
    assert queued.status_code == 202, queued.get_json()
    assert smtp.wait_for_recipient(address, timeout=20)[0].message["Subject"].startswith("[TEST]")
