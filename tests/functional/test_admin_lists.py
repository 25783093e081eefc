"""The admin lists on PostgreSQL (the unit tier runs them on SQLite): the filters' SQL, the
prefix index's LIKE with its wildcards taken literally, and keyset pages through a delete."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, update

from service.access.keys import create_api_key
from service.extensions import db
from service.models import (
    Article,
    ConsentRecord,
    Newsletter,
    Send,
    Subscriber,
    SubscriptionStatus,
    utcnow,
)
from tests.support.readers import add_reader


def test_filters_and_pages_on_postgresql(postgres_app):
    daily, weekly = Newsletter(slug="daily", name="Daily"), Newsletter(slug="weekly", name="W")
    db.session.add_all([daily, weekly])
    db.session.commit()
    ann = add_reader(daily, email="a_n%n@example.org")
    bob = add_reader(daily, weekly, email="abbot@example.org", status=SubscriptionStatus.PENDING)
    cat = add_reader(weekly, email="cat@example.org")
    db.session.add(ConsentRecord(subscriber_id=bob.id, action="import"))
    old = utcnow() - timedelta(days=10)
    db.session.execute(update(Subscriber).where(Subscriber.id == cat.id).values(created_at=old))
    db.session.commit()
    client = postgres_app.test_client()
    headers = {"Authorization": f"Bearer {create_api_key('pg-lists', ['read'])}"}

    def emails(query: str) -> list[str]:
        answer = client.get(f"/api/v1/subscribers?{query}", headers=headers)
        assert answer.status_code == 200, answer.json
        return [s["email"] for s in answer.json["subscribers"]]

    assert emails("email_prefix=a_") == ["a_n%n@example.org"]  # `_` is not "any letter"
    assert emails("email_prefix=a_n%25") == ["a_n%n@example.org"]
    assert emails("email_prefix=ab") == ["abbot@example.org"]
    assert emails("newsletter=weekly&status=pending") == ["abbot@example.org"]
    assert emails("source=import") == ["abbot@example.org"]
    since = (utcnow() - timedelta(days=1)).isoformat()
    assert emails(f"created_after={since}".replace("+", "%2B")) == [
        "a_n%n@example.org",
        "abbot@example.org",
    ]
    first = client.get("/api/v1/subscribers?limit=1", headers=headers).json
    db.session.execute(delete(Subscriber).where(Subscriber.id == bob.id))
    db.session.commit()
    rest = client.get(f"/api/v1/subscribers?limit=5&cursor={first['next']}", headers=headers)
    assert [s["id"] for s in first["subscribers"]] == [ann.id]
    assert [s["email"] for s in rest.json["subscribers"]] == ["cat@example.org"]
    assert rest.json["next"] is None


def test_articles_page_on_postgresql_through_ties_and_deletes(postgres_app):
    """The cursor's time keeps PostgreSQL's microseconds: ties and near-ties page exactly."""
    when = utcnow().replace(microsecond=123456)
    times = [when, when, when + timedelta(microseconds=1), when - timedelta(microseconds=1)]
    articles = [
        Article(url=f"https://news.example.org/{n}", title=f"S{n}", published_at=t)
        for n, t in enumerate(times * 3)
    ]
    db.session.add_all(articles)
    db.session.commit()
    client = postgres_app.test_client()
    headers = {"Authorization": f"Bearer {create_api_key('pg-articles', ['read'])}"}
    seen, cursor = [], None
    while True:
        query = "limit=5" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(f"/api/v1/articles?{query}", headers=headers)
        assert answer.status_code == 200, answer.json
        seen += [a["id"] for a in answer.json["articles"]]
        cursor = answer.json["next"]
        if len(seen) == 5:
            db.session.execute(delete(Article).where(Article.id == articles[-1].id))
            db.session.commit()
        if cursor is None:
            break
    expected = sorted(articles[:-1], key=lambda a: (a.published_at, a.id), reverse=True)
    assert seen == [a.id for a in expected]


def test_sends_page_shows_each_digests_skipped_articles_on_postgresql(postgres_app):
    daily = Newsletter(slug="daily", name="Daily")
    db.session.add(daily)
    db.session.commit()
    sends = [
        Send(newsletter_id=daily.id, status="sent", content=content)
        for content in ({}, {"skipped": {"too_old": 3}}, {"articles": [], "skipped": None})
    ]
    db.session.add_all(sends)
    db.session.commit()
    headers = {"Authorization": f"Bearer {create_api_key('pg-sends', ['read'])}"}
    page = postgres_app.test_client().get("/api/v1/sends", headers=headers).json["sends"]
    assert [s["articles_skipped"] for s in page] == [{}, {"too_old": 3}, {}]
