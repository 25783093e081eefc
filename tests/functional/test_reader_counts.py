"""Each newsletter's readers by status, kept as exact counts in the transaction of each change:
after a mixed run (signups applied by the worker's function, confirmations, unsubscribes by
link, one-click and the preference page, a bounce and a complaint through deliverability, CSV
imports of each mode and a re-import, the purge of expired signups, an erasure, a deleted
newsletter) they equal a full count of the subscriptions on SQLite and PostgreSQL; concurrent
transactions moving one newsletter's readers add up on PostgreSQL; a rolled-back change counts
nothing; and what the console and a new send read is the kept counts."""

from __future__ import annotations

import io
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from service.addresses import parse_address
from service.deliverability.feedback import FeedbackEvent, record_feedback
from service.extensions import db
from service.leaving import changes
from service.leaving.expiry import purge_expired_pending
from service.leaving.links import unsubscribe_token
from service.lists.csv_rows import read_csv
from service.lists.imports import ImportMode, import_subscribers
from service.lists.retire import delete_newsletter
from service.lists.subscribers import erase_subscriber
from service.models import (
    Newsletter,
    NewsletterReaderCount,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from service.sending.scheduling import readers_by_status
from service.signup.accept import SignupRequest, subscribe
from service.signup.confirm import confirm, confirmation_token
from tests.conftest import apply_signups_here, plain_app, scratch_postgres
from tests.support.figures import counted_readers, kept_readers


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request, tmp_path, redis_server):
    """A plain app (no worker) on each backend."""
    if request.param == "sqlite":
        with plain_app(f"sqlite:///{tmp_path / 'r.db'}", redis_server, tmp_path) as app:
            yield app
    else:
        with scratch_postgres() as url, plain_app(url, redis_server, tmp_path) as app:
            yield app


def _newsletter(slug: str) -> Newsletter:
    newsletter = Newsletter(slug=slug, name=slug.title())
    db.session.add(newsletter)
    db.session.commit()
    return newsletter


def _agree() -> Counter[tuple[int, str]]:
    db.session.commit()
    kept = kept_readers()
    assert kept == counted_readers()
    return kept


def _reader(email: str) -> Subscriber:
    return db.session.scalars(select(Subscriber).where(Subscriber.email_key == email)).one()


def _signup(email: str, *slugs: str) -> None:
    subscribe(SignupRequest(parse_address(email), slugs))


def _import(newsletter: Newsletter, emails: list[str], mode: ImportMode) -> None:
    rows = "email\n" + "\n".join(emails) + "\nnot-an-address\n"
    consent = "paper form" if mode == ImportMode.CONFIRMED else None
    import_subscribers(read_csv(io.StringIO(rows)), newsletter, mode=mode, consent=consent)


def test_the_counts_equal_a_full_count_after_a_mixed_run(any_app):
    news, weekly, gone = _newsletter("news"), _newsletter("weekly"), _newsletter("gone")
    emails = [f"reader{n}@gmail.com" for n in range(10)]
    for n, email in enumerate(emails):
        _signup(email, *("news", "weekly", "gone")[: 1 + n % 3])
    apply_signups_here()
    assert _agree()[(news.id, "pending")] == 10
    for email in emails[:7]:
        confirm(confirmation_token(_reader(email)))
    assert _agree()[(news.id, "confirmed")] == 7

    changes.unsubscribe(_reader(emails[0]).id, news.id, "link")  # confirmed, leaves
    client = any_app.test_client()
    one_click = client.post(
        f"/unsubscribe/{unsubscribe_token(_reader(emails[1]).id, weekly.id)}",
        data={"List-Unsubscribe": "One-Click"},
    )
    assert one_click.status_code == 200
    changes.save_preferences(_reader(emails[3]).id, [weekly.id])  # leaves news, joins weekly
    bounce = FeedbackEvent(source="dsn", kind="bounce", provider_event_id="counts-b",
                           status="5.1.1", recipient=emails[4])  # fmt: skip
    assert record_feedback(bounce).action != "none"
    complaint = FeedbackEvent(source="arf", kind="complaint", provider_event_id="counts-c",
                              recipient=emails[5])  # fmt: skip
    assert record_feedback(complaint).action == "unsubscribed"
    kept = _agree()
    assert kept[(news.id, "bounced")] == 1 and kept[(news.id, "unsubscribed")] == 3

    imported = [f"imported{n}@gmail.com" for n in range(4)]
    _import(news, imported[:2], ImportMode.PENDING)
    _import(news, imported[2:], ImportMode.SEND_CONFIRMATION)
    _import(news, [*imported, emails[7], emails[0]], ImportMode.CONFIRMED)  # re-import moves on
    _import(weekly, imported, ImportMode.PENDING)
    kept = _agree()
    assert kept[(weekly.id, "pending")] >= 4

    # a reader who left signs up again (pending, once confirmed), then nobody confirms for long
    _signup(emails[0], "news")
    apply_signups_here()
    stale = utcnow() - timedelta(days=60)
    db.session.execute(
        update(Subscription)
        .where(Subscription.status == SubscriptionStatus.PENDING)
        .where(Subscription.newsletter_id.in_([news.id, weekly.id]))
        .values(updated_at=stale)
    )
    db.session.commit()
    assert purge_expired_pending() > 0
    kept = _agree()
    assert kept[(news.id, "pending")] == kept[(weekly.id, "pending")] == 0

    erase_subscriber(_reader(emails[6]))  # confirmed on news
    erase_subscriber(_reader(emails[2]))  # confirmed on news, weekly and gone
    kept = _agree()
    assert (gone.id, "confirmed") not in kept
    delete_newsletter(db.session.get(Newsletter, gone.id))
    kept = _agree()
    assert not [key for key in kept if key[0] == gone.id]
    assert not db.session.scalar(
        select(func.count()).where(NewsletterReaderCount.newsletter_id == gone.id)
    )
    for newsletter_id in (news.id, weekly.id):
        assert readers_by_status(newsletter_id) == {
            status: n for (nid, status), n in kept.items() if nid == newsletter_id
        }


def test_a_rolled_back_change_counts_nothing(any_app):
    news = _newsletter("news")
    _signup("olena@gmail.com", "news")
    apply_signups_here()
    reader = _reader("olena@gmail.com")
    reader.subscriptions[0].move_to("confirmed", "confirm")
    db.session.flush()
    db.session.rollback()
    assert _agree() == Counter({(news.id, "pending"): 1})
    assert readers_by_status(news.id) == {"pending": 1}


def test_the_counts_are_read_not_counted(any_app):
    """What the console and a new send read is the kept row: a change the counts never saw
    (written behind the service's back) does not show."""
    news = _newsletter("news")
    _signup("olena@gmail.com", "news")
    apply_signups_here()
    db.session.execute(text("UPDATE subscriptions SET status = 'confirmed'"))
    db.session.commit()
    assert readers_by_status(news.id) == {"pending": 1}


def test_concurrent_moves_of_one_newsletters_readers_add_up(tmp_path, redis_server):
    """Four threads, each its own session, move one newsletter's readers at once (confirm,
    unsubscribe, import, sign up again): every move locks the same rows, in one order."""
    with scratch_postgres() as url, plain_app(url, redis_server, tmp_path) as app:
        news_id = _newsletter("news").id
        per_thread, threads = 20, 4
        emails = [[f"t{t}r{n}@gmail.com" for n in range(per_thread)] for t in range(threads)]
        for group in emails:
            for email in group:
                _signup(email, "news")
        apply_signups_here()
        ids = [[_reader(e).id for e in group] for group in emails]
        db.session.remove()
        start, errors = threading.Barrier(threads), []

        def confirm_and_leave(subscriber_ids: list[int], leave: bool) -> None:
            for subscriber_id in subscriber_ids:
                subscription = db.session.scalars(
                    select(Subscription).where(Subscription.subscriber_id == subscriber_id)
                ).one()
                subscription.move_to("confirmed", "confirm")
                db.session.commit()
                if leave:
                    changes.unsubscribe(subscriber_id, news_id, "link")

        def import_them(group: list[str]) -> None:
            newsletter = db.session.get(Newsletter, news_id)
            for email in group:
                _import(newsletter, [email, f"new.{email}"], ImportMode.CONFIRMED)

        def work(n: int) -> None:
            try:
                with app.app_context():
                    start.wait()
                    if n == 0:
                        confirm_and_leave(ids[0], leave=False)
                    elif n == 1:
                        confirm_and_leave(ids[1], leave=True)
                    elif n == 2:
                        import_them(emails[2])
                    else:
                        for email in emails[3]:
                            _signup(email.replace("t3", "t3new"), "news")
                            apply_signups_here()
                    db.session.remove()
            except Exception as exc:
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert errors == []
        kept = _agree()
        assert kept == Counter({
            (news_id, "confirmed"): 20 + 20 + 20,
            (news_id, "unsubscribed"): 20,
            (news_id, "pending"): 20 + 20,
        })  # fmt: skip
