"""One digest per newsletter at a time: a second send is refused, whoever starts it and when.

Issue 13 item 2. The database refuses a second scheduled, sending or paused send of a
newsletter (a partial unique index), so two `digest send` at once, by CLI processes and the
API, make one send; composing skips every article a started, not cancelled send carries; a
cron slot that comes during a manual send is skipped and logged. Counted on the SMTP
server's own record: every confirmed reader exactly one copy.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.digests.compose import compose
from service.extensions import db
from service.models import Send, SendStatus, utcnow
from service.sending import scheduling
from tests.conftest import ROOT
from tests.functional.test_sending import (
    FINAL,
    fresh_article,
    reader,
    received,
    show,
    wait_status,
)

AUTH = "Authorization"


def post_send(client, api_key, slug, **body):
    return client.post(
        f"/api/v1/newsletters/{slug}/sends", json=body, headers={AUTH: f"Bearer {api_key}"}
    )


def sends_of(newsletter_id: int) -> list[Send]:
    db.session.commit()  # a fresh snapshot: what the workers and other processes wrote
    return db.session.scalars(
        select(Send).where(Send.newsletter_id == newsletter_id).order_by(Send.id)
    ).all()


def settled(smtp, addresses, expected: int, quiet: float = 1.5, timeout: float = 30.0) -> list:
    """The messages to `addresses` once `expected` arrived and nothing more came for `quiet` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(received(smtp, addresses)) < expected:
        time.sleep(0.05)
    time.sleep(quiet)
    return received(smtp, addresses)


# The CLI in its own process, its app built first, run when the gate file appears: so that
# the processes and the API threads insert within milliseconds of each other.
GATED_CLI = """
import os, sys, time
from service import create_app
from service.cli import main
app = create_app()
main.create_app = lambda: app
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.002)
main(sys.argv[2:])
"""


def gated_cli(env: dict[str, str], gate: str, *args: str) -> subprocess.Popen:
    """`newsletter ARGS` as its own process, as an operator runs it, started at `gate`."""
    return subprocess.Popen(
        [sys.executable, "-c", GATED_CLI, gate, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_digest_sends_at_once_by_cli_and_api_mail_each_reader_once(
    stack, app, client, api_key, newsletter, smtp, tmp_path
):
    news = newsletter()
    fresh_article()
    readers = [reader(news) for _ in range(40)]
    addresses = [r.email for r in readers]
    gate = tmp_path / "go"

    processes = [gated_cli(stack.env, str(gate), "digest", "send", news.slug) for _ in range(3)]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    answers: list = []
    opened = threading.Event()

    def api_send():
        with app.test_client() as own:
            opened.wait()
            answers.append(post_send(own, api_key, news.slug))

    threads = [threading.Thread(target=api_send) for _ in range(2)]
    for thread in threads:
        thread.start()
    gate.touch()
    opened.set()
    for thread in threads:
        thread.join()
    outputs = [(p.wait(60), *p.communicate()) for p in processes]

    sends = sends_of(news.id)
    assert len(sends) == 1, [(s.id, s.status) for s in sends]
    only = sends[0].id
    created = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 409]
    cli_ok = [o for o in outputs if o[0] == 0]
    cli_refused = [o for o in outputs if o[0] == 1]
    assert len(created) + len(cli_ok) == 1, (answers, outputs)
    assert len(refused) + len(cli_refused) == 4
    for answer in refused:
        body = answer.get_json()
        assert body["status"] == "error" and body["code"] == "send_in_progress"
        assert body["send_id"] == only and f"send {only}" in body["message"]
    for _, out, err in cli_refused:
        assert f"send {only} of this newsletter is" in err and "Traceback" not in err + out
        assert f"newsletter sends cancel {only}" in err

    assert wait_status(client, api_key, only, FINAL, timeout=60)["status"] == "sent"
    messages = settled(smtp, addresses, len(readers))
    assert sorted(m.recipients[0] for m in messages) == sorted(addresses)

    # and again once it has gone out: nothing new, so nothing is mailed a second time
    again = post_send(client, api_key, news.slug)
    assert again.status_code == 201
    assert wait_status(client, api_key, again.get_json()["id"], FINAL)["status"] == "skipped"
    assert len(settled(smtp, addresses, len(readers), quiet=1.0)) == len(readers)
    archive = client.get(f"/archive/{news.slug}").get_data(as_text=True)
    assert archive.count(f"/archive/{news.slug}/") == 1


def test_concurrent_creates_make_one_send(app, newsletter):
    """Eight threads, each on its own database connection, insert at the same moment."""
    news = newsletter()
    reader(news)
    news_id = news.id
    later = utcnow() + timedelta(hours=3)
    outcomes: list[str] = []
    together = threading.Barrier(8)

    def create():
        with app.app_context():
            target = db.session.get(type(news), news_id)
            together.wait()
            try:
                outcomes.append(f"made {scheduling.create_send(target, later).id}")
            except scheduling.SendInProgress as exc:
                outcomes.append(f"refused {exc.send.id}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [made] = [o for o in outcomes if o.startswith("made")]
    assert sorted(outcomes) == sorted([made] + [f"refused {made.split()[1]}"] * 7)
    assert [s.status for s in sends_of(news_id)] == [SendStatus.SCHEDULED]


def test_the_database_refuses_a_second_active_send(app, newsletter):
    news = newsletter()
    for status in (SendStatus.SENT, SendStatus.CANCELLED, SendStatus.SKIPPED, SendStatus.FAILED):
        db.session.add(Send(newsletter_id=news.id, status=status))
    db.session.add(Send(newsletter_id=news.id, status=SendStatus.PAUSED))
    db.session.commit()
    for status in (SendStatus.SCHEDULED, SendStatus.SENDING, SendStatus.PAUSED):
        db.session.add(Send(newsletter_id=news.id, status=status))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_a_paused_or_scheduled_send_blocks_another(client, api_key, newsletter):
    news = newsletter()
    reader(news)
    later = (utcnow() + timedelta(days=1)).isoformat()
    first = post_send(client, api_key, news.slug, scheduled_at=later)
    assert first.status_code == 201
    first_id = first.get_json()["id"]
    now = post_send(client, api_key, news.slug)
    assert now.status_code == 409 and now.get_json()["send_id"] == first_id
    assert now.get_json()["send_status"] == "scheduled"
    pause = client.post(f"/api/v1/sends/{first_id}/pause", headers={AUTH: f"Bearer {api_key}"})
    assert pause.status_code == 200
    assert post_send(client, api_key, news.slug).get_json()["code"] == "send_in_progress"
    cancel = client.post(f"/api/v1/sends/{first_id}/cancel", headers={AUTH: f"Bearer {api_key}"})
    assert cancel.status_code == 200
    assert post_send(client, api_key, news.slug, scheduled_at=later).status_code == 201


def _started(news, status: SendStatus, article_ids: list[int], minutes_ago: int) -> Send:
    send = Send(
        newsletter_id=news.id,
        status=status,
        started_at=utcnow() - timedelta(minutes=minutes_ago),
        finished_at=None if status == SendStatus.SENDING else utcnow(),
        content={"article_ids": article_ids},
    )
    db.session.add(send)
    db.session.commit()
    return send


@pytest.mark.parametrize("status", [SendStatus.SENDING, SendStatus.FAILED, SendStatus.PAUSED])
def test_compose_skips_what_any_started_send_carries(app, newsletter, status):
    news = newsletter()
    old, carried, new = fresh_article(), fresh_article(), fresh_article()
    _started(news, SendStatus.SENT, [old.id], minutes_ago=30)
    # the sent one started before these were published: only this unfinished send carries them
    for article in (carried, new):
        article.published_at = utcnow() - timedelta(minutes=20)
    db.session.commit()
    _started(news, status, [carried.id], minutes_ago=10)
    content = compose(news)
    assert content is not None
    assert new.id in content.article_ids
    assert carried.id not in content.article_ids and old.id not in content.article_ids


def test_a_cancelled_sends_articles_may_go_out_again(app, newsletter):
    news = newsletter()
    article = fresh_article()
    _started(news, SendStatus.CANCELLED, [article.id], minutes_ago=0)
    content = compose(news)
    assert content is not None and article.id in content.article_ids


def test_a_cron_slot_during_a_manual_send_is_skipped_and_logged(app, newsletter, service_log):
    news = newsletter(schedule_cron="0 7 * * *", timezone="Europe/Kyiv")
    news.created_at = utcnow() - timedelta(days=3)
    db.session.commit()
    kyiv = ZoneInfo("Europe/Kyiv")
    slot = (utcnow() + timedelta(days=1)).astimezone(kyiv).replace(hour=7, minute=0, second=0)
    slot = slot.replace(microsecond=0)
    now = (slot + timedelta(minutes=2)).astimezone(UTC)
    manual = Send(newsletter_id=news.id, status=SendStatus.SENDING, started_at=utcnow())
    db.session.add(manual)
    db.session.commit()

    assert scheduling.create_cron_sends(now, only=[news.id]) == 0
    warnings = [
        r.getMessage() for r in service_log.records if "cron slot skipped" in r.getMessage()
    ]
    assert warnings == [
        f"newsletter {news.id}: {slot.astimezone(UTC):%Y-%m-%dT%H:%MZ} "
        f"cron slot skipped: send {manual.id} was sending"
    ]
    # the manual send ends; the next ticks still do not make the slot's send
    manual.status, manual.finished_at = SendStatus.SENT, utcnow()
    db.session.commit()
    assert scheduling.create_cron_sends(now + timedelta(minutes=1), only=[news.id]) == 0
    statuses = [(s.status, s.status_reason) for s in sends_of(news.id)]
    assert statuses == [
        (SendStatus.SENT, ""),
        (SendStatus.SKIPPED, f"cron slot skipped: send {manual.id} was sending"),
    ]
    assert len([r for r in service_log.records if "cron slot skipped" in r.getMessage()]) == 1
    # the next day's slot is made as usual
    assert scheduling.create_cron_sends(now + timedelta(days=1), only=[news.id]) == 1


def test_archive_lists_an_old_duplicate_issue_once(app, client, newsletter):
    news = newsletter()
    article = fresh_article()
    for minutes in (20, 10):
        send = _started(news, SendStatus.SENT, [article.id], minutes_ago=minutes)
        send.subject = f"Issue {uuid.uuid4().hex[:6]}"
    later = _started(news, SendStatus.SENT, [article.id, fresh_article().id], minutes_ago=5)
    for send in sends_of(news.id):
        send.sent = send.total = 1  # each reached a reader (an issue sent to nobody is not listed)
    db.session.commit()
    first = sends_of(news.id)[0]
    page = client.get(f"/archive/{news.slug}").get_data(as_text=True)
    assert page.count(f"/archive/{news.slug}/") == 2
    assert f"/archive/{news.slug}/{first.id}" in page and f"/archive/{news.slug}/{later.id}" in page


def test_a_send_shows_409_in_the_public_shape(client, api_key, newsletter):
    news = newsletter()
    reader(news)
    later = (utcnow() + timedelta(hours=1)).isoformat()
    first = post_send(client, api_key, news.slug, scheduled_at=later).get_json()["id"]
    body = post_send(client, api_key, news.slug, scheduled_at=later).get_json()
    assert set(body) == {"status", "code", "message", "send_id", "send_status"}
    assert body["message"].endswith(f"cancel it with POST /api/v1/sends/{first}/cancel.")
    assert show(client, api_key, first)["status"] == "scheduled"
