"""A reader's timeline over the API: subscription changes, consent records and deliveries merged
newest first, with each subscription's consent state, in keyset pages that neither skip nor
repeat through inserts and deletes; a `read` key is enough, no key is not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from service.access.keys import create_api_key
from service.addresses import parse_address
from service.extensions import db
from service.leaving import changes, suppression
from service.models import (
    ConsentRecord,
    Delivery,
    Send,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    utcnow,
)
from service.signup.accept import SignupRequest, subscribe
from service.signup.confirm import confirm, confirmation_token


@pytest.fixture
def reader_key(unit_app) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key('console', ['read'])}"}


def _signed_up(daily, weekly) -> Subscriber:
    subscribe(
        SignupRequest(
            parse_address("olena@gmail.com"), ("daily", "weekly"), ip="192.0.2.7", form="home"
        )
    )
    reader = db.session.scalars(select(Subscriber)).one()
    confirm(confirmation_token(reader))
    return reader


def _deliver(reader: Subscriber, newsletter, subject: str, status: str = "sent") -> Delivery:
    send = Send(newsletter_id=newsletter.id, subject=subject, status="finished")
    db.session.add(send)
    db.session.flush()
    delivery = Delivery(send_id=send.id, subscriber_id=reader.id, status=status, attempts=1)
    db.session.add(delivery)
    db.session.commit()
    return delivery


def everything(client, headers, reader_id: int, limit: int) -> list[dict]:
    seen, cursor = [], None
    while True:
        query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/subscribers/{reader_id}/timeline?{query}", headers=headers)
        assert page.status_code == 200, page.json
        seen += page.json["events"]
        cursor = page.json["next"]
        if cursor is None:
            return seen


def test_the_timeline_tells_a_readers_story_newest_first(
    unit_app, add_newsletter, reader_key, sent_mail
):
    daily, weekly = add_newsletter("daily"), add_newsletter("weekly")
    reader = _signed_up(daily, weekly)
    _deliver(reader, daily, "Issue 1")
    changes.unsubscribe(reader.id, weekly.id, "link")
    suppression.record_bounce(reader.id, daily.id, reader.email_key, "550 no such user")
    answer = unit_app.test_client().get(
        f"/api/v1/subscribers/{reader.id}/timeline", headers=reader_key
    )
    assert answer.status_code == 200
    body = answer.json
    assert body["next"] is None and body["id"] == reader.id
    story = [
        (e["kind"], e.get("newsletter"), e.get("to_status") or e.get("action") or e["subject"])
        for e in body["events"]
    ]
    assert story[:3] == [
        ("subscription", "daily", "bounced"),
        ("subscription", "weekly", "unsubscribed"),
        ("delivery", "daily", "Issue 1"),
    ]
    assert sorted(story[3:]) == sorted(
        [
            ("subscription", "daily", "confirmed"),
            ("subscription", "weekly", "confirmed"),
            ("consent", None, "confirm"),
            ("subscription", "daily", "pending"),
            ("subscription", "weekly", "pending"),
            ("consent", None, "signup"),
        ]
    )
    times = [e["at"] for e in body["events"]]
    assert times == sorted(times, reverse=True)
    signup = next(e for e in body["events"] if e.get("action") == "signup")
    assert (signup["ip"], signup["form"], signup["newsletters"]) == (
        "192.0.2.7",
        "home",
        ["daily", "weekly"],
    )
    consent = {c["newsletter"]: c for c in body["consent"]}
    assert consent["daily"]["status"] == "bounced" and consent["daily"]["confirmed_at"]
    assert consent["weekly"]["unsubscribed_at"] and consent["weekly"]["consent_source"] is None
    assert "550 no such user" not in answer.get_data(as_text=True)


def test_pages_skip_nothing_through_inserts_and_deletes(unit_app, add_newsletter, reader_key):
    daily = add_newsletter("daily")
    reader = Subscriber(email="p@gmail.com", email_ascii="p@gmail.com", email_key="p@gmail.com")
    reader.subscriptions = [Subscription(newsletter=daily, status="confirmed")]
    db.session.add(reader)
    db.session.commit()
    subscription = reader.subscriptions[0]
    start = utcnow() - timedelta(days=1)
    same = start + timedelta(hours=1)  # rows of different kinds at one instant
    for n in range(12):
        at = same if n % 3 == 0 else start + timedelta(minutes=n)
        db.session.add_all(
            [
                SubscriptionEvent(subscription_id=subscription.id, from_status="confirmed",
                                  to_status="confirmed", cause=f"e{n}", created_at=at),
                ConsentRecord(subscriber_id=reader.id, action="signup", form=f"c{n}",
                              created_at=at),
            ]
        )  # fmt: skip
    db.session.commit()
    for n in range(4):
        _deliver(reader, daily, f"d{n}").updated_at = same
    db.session.commit()
    client = unit_app.test_client()

    def name(entry: dict) -> str:
        return entry.get("cause") or entry.get("form") or entry["subject"]

    whole = [name(e) for e in everything(client, reader_key, reader.id, limit=500)]
    assert len(whole) == len(set(whole)) == 28
    oldest_consents = [n for n in reversed(whole) if n.startswith("c")]
    seen, gone, cursor, step = [], set(), None, 0
    while True:
        query = "limit=5" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/subscribers/{reader.id}/timeline?{query}", headers=reader_key)
        seen += [name(e) for e in page.json["events"]]
        cursor = page.json["next"]
        if cursor is None:
            break
        # between pages: something newer than every page comes, something still to come goes
        db.session.add(ConsentRecord(subscriber_id=reader.id, action="confirm", form=f"new{step}"))
        doomed = oldest_consents[step]
        gone.add(doomed)
        db.session.execute(delete(ConsentRecord).where(ConsentRecord.form == doomed))
        db.session.commit()
        step += 1
    assert step >= 4 and not gone & set(seen)
    assert len(seen) == len(set(seen))
    assert [n for n in whole if n not in gone] == seen
    assert not any(n.startswith("new") for n in seen)  # newer than the cursor: a fresh start


def test_bad_pages_and_unknown_readers(unit_app, add_newsletter, reader_key):
    client = unit_app.test_client()
    assert client.get("/api/v1/subscribers/999/timeline", headers=reader_key).status_code == 404
    reader = Subscriber(email="q@gmail.com", email_ascii="q@gmail.com", email_key="q@gmail.com")
    db.session.add(reader)
    db.session.commit()
    path = f"/api/v1/subscribers/{reader.id}/timeline"
    assert client.get(path, headers=reader_key).json == {
        "id": reader.id,
        "consent": [],
        "events": [],
        "next": None,
    }
    for query in ("cursor=bogus", "cursor=WzEsMl0", "limit=0", "limit=501", "cursor=WzEsMiwtM10"):
        answer = client.get(f"{path}?{query}", headers=reader_key)
        assert answer.status_code == 422, query
    assert client.get(path).status_code == 401
