"""A send with no confirmed reader is refused with the reason, and uses up no article.

On SQLite and PostgreSQL with a real worker: the API answers 422 `no_recipients`, `digest
send` exits 1 saying why, and once readers are confirmed the next send carries the articles
the refused one would have used up. A scheduled send whose readers all left by its time is
skipped, not `sent` to nobody.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from service.digests.compose import compose
from service.extensions import db
from service.models import Send, SendStatus, Subscription, SubscriptionStatus, utcnow
from service.sending import fanout, scheduling
from tests.conftest import unique_email
from tests.functional.test_cli_admin import write_csv
from tests.functional.test_sending import FINAL, fresh_article, reader, wait_status

AUTH = "Authorization"


def sends_of(news) -> list[Send]:
    db.session.commit()
    return db.session.scalars(select(Send).where(Send.newsletter_id == news.id)).all()


def test_a_send_to_only_pending_readers_is_refused_and_uses_up_nothing(
    app, client, api_key, newsletter, smtp, tmp_path
):
    news = newsletter()
    article = fresh_article()
    emails = [unique_email() for _ in range(2)]
    path = write_csv(tmp_path / "list.csv", ["email", *emails])
    runner = app.test_cli_runner()
    imported = runner.invoke(
        args=["subscribers", "import", path, "--newsletter", news.slug, "--pending"]
    )
    assert imported.exit_code == 0, imported.output

    answer = client.post(
        f"/api/v1/newsletters/{news.slug}/sends", json={}, headers={AUTH: f"Bearer {api_key}"}
    )
    assert answer.status_code == 422
    body = answer.get_json()
    assert (body["code"], body["pending"]) == ("no_recipients", 2)
    assert "no confirmed reader" in body["message"] and "no article was used up" in body["message"]

    refused = runner.invoke(args=["digest", "send", news.slug])
    assert refused.exit_code == 1
    assert "not sent: newsletter" in refused.output and "2 pending" in refused.output
    assert "--send-confirmation" in refused.output
    assert sends_of(news) == []

    moved = runner.invoke(args=["subscribers", "import", path, "--newsletter", news.slug,
                                "--consent", "old signup box"])  # fmt: skip
    assert moved.exit_code == 0 and "2 pending confirmed" in moved.output
    send_id = scheduling.create_send(news).id
    body = wait_status(client, api_key, send_id, FINAL)
    assert (body["status"], body["sent"]) == ("sent", 2)
    db.session.commit()
    assert article.id in db.session.get(Send, send_id).content["article_ids"]


def test_a_scheduled_send_whose_readers_left_is_skipped_not_sent(app, newsletter):
    news = newsletter()
    fresh_article()
    someone = reader(news)
    send = scheduling.create_send(news, utcnow() + timedelta(hours=1))
    db.session.execute(
        update(Subscription)
        .where(Subscription.subscriber_id == someone.id)
        .values(status=SubscriptionStatus.UNSUBSCRIBED)
    )
    db.session.execute(
        update(Send).where(Send.id == send.id).values(scheduled_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert fanout.start_send(send.id) is False
    [skipped] = sends_of(news)
    assert (skipped.status, skipped.started_at) == (SendStatus.SKIPPED, None)
    assert skipped.status_reason == "no confirmed reader: nobody to mail"
    assert compose(news) is not None  # its articles wait for the next send
