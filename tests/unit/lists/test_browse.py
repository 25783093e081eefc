"""Readers and sends in keyset pages, filtered: every filter narrows as it says, and paging
through inserts and deletes between pages skips nothing and shows nothing twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from service.access.keys import create_api_key
from service.extensions import db
from service.models import (
    Article,
    ConsentRecord,
    Send,
    SendBatch,
    Subscriber,
    SubscriptionStatus,
    utcnow,
)
from tests.support.readers import add_reader


@pytest.fixture
def reader_key(unit_app) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key('browser', ['read'])}"}


def emails(client, headers, query: str = "", limit: int = 500) -> list[str]:
    """Every page of `GET /api/v1/subscribers?query`, in order."""
    seen, cursor = [], None
    while True:
        page = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(f"/api/v1/subscribers?{query}&{page}", headers=headers)
        assert answer.status_code == 200, answer.json
        seen += [s["email"] for s in answer.json["subscribers"]]
        cursor = answer.json["next"]
        if cursor is None:
            return seen


def test_each_filter_narrows_the_list(unit_app, add_newsletter, reader_key):
    daily, weekly = add_newsletter("daily"), add_newsletter("weekly")
    ann = add_reader(daily, email="ann@example.org")
    bob = add_reader(daily, weekly, email="bob@example.org", status=SubscriptionStatus.PENDING)
    cat = add_reader(weekly, email="Cat@Example.org", status=SubscriptionStatus.UNSUBSCRIBED)
    db.session.add_all([
        ConsentRecord(subscriber_id=ann.id, action="signup", form="embed"),
        ConsentRecord(subscriber_id=bob.id, action="import"),
    ])  # fmt: skip
    old = utcnow() - timedelta(days=10)
    db.session.execute(update(Subscriber).where(Subscriber.id == cat.id).values(created_at=old))
    db.session.commit()
    client = unit_app.test_client()
    everyone = ["ann@example.org", "bob@example.org", "Cat@Example.org"]
    assert emails(client, reader_key) == everyone
    assert emails(client, reader_key, "newsletter=daily") == everyone[:2]
    assert emails(client, reader_key, "newsletter=weekly&status=pending") == ["bob@example.org"]
    assert emails(client, reader_key, "status=confirmed") == ["ann@example.org"]
    assert emails(client, reader_key, "source=embed") == ["ann@example.org"]
    assert emails(client, reader_key, "source=import") == ["bob@example.org"]
    since = (utcnow() - timedelta(days=1)).date().isoformat()
    assert emails(client, reader_key, f"created_after={since}") == everyone[:2]
    assert emails(client, reader_key, f"created_before={since}") == ["Cat@Example.org"]
    assert emails(client, reader_key, "email=CAT@example.org") == ["Cat@Example.org"]
    assert emails(client, reader_key, "email_prefix=B") == ["bob@example.org"]
    assert emails(client, reader_key, "email_prefix=%25") == []  # a LIKE wildcard is a letter
    for bad in (
        "newsletter=nope",
        "status=happy",
        "created_after=yesterday",
        "created_before=2026-13-01",
        "source=" + "x" * 65,
        "limit=0",
        "cursor=x",
    ):
        answer = client.get(f"/api/v1/subscribers?{bad}", headers=reader_key)
        assert answer.status_code == 422, bad
        assert answer.json["field"] == bad.split("=")[0], bad  # fmt: skip


def test_paging_through_inserts_and_deletes_skips_nothing_and_repeats_nothing(
    unit_app, add_newsletter, reader_key
):
    daily = add_newsletter("daily")
    readers = [add_reader(daily, email=f"r{n:02}@example.org") for n in range(10)]
    client = unit_app.test_client()
    seen, cursor = [], None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(f"/api/v1/subscribers{query}", headers=reader_key).json
        seen += [s["email"] for s in answer["subscribers"]]
        cursor = answer["next"]
        if len(seen) == 3:  # between pages: one reader gone ahead, one gone behind, one new
            db.session.execute(delete(Subscriber).where(Subscriber.id.in_(
                [readers[1].id, readers[7].id])))  # fmt: skip
            db.session.commit()
            add_reader(daily, email="late@example.org")
        if cursor is None:
            break
    expected = [f"r{n:02}@example.org" for n in range(10) if n != 7]
    assert seen == [*expected, "late@example.org"]


def test_sends_page_newest_first_and_filter(unit_app, add_newsletter, reader_key):
    daily, weekly = add_newsletter("daily"), add_newsletter("weekly")
    for newsletter, status in [(daily, "sent"), (weekly, "sent"), (daily, "cancelled"),
                               (weekly, "failed"), (daily, "sent")]:  # fmt: skip
        db.session.add(Send(newsletter_id=newsletter.id, status=status))
    db.session.commit()
    client = unit_app.test_client()

    def ids(query: str) -> list[int]:
        seen, cursor = [], None
        while True:
            page = "limit=2" + (f"&cursor={cursor}" if cursor else "")
            answer = client.get(f"/api/v1/sends?{query}&{page}", headers=reader_key)
            assert answer.status_code == 200, answer.json
            seen += [s["id"] for s in answer.json["sends"]]
            cursor = answer.json["next"]
            if cursor is None:
                return seen

    everything = ids("")
    assert everything == sorted(everything, reverse=True) and len(everything) == 5
    daily_sends = ids("newsletter=daily")
    assert len(daily_sends) == 3 and set(daily_sends) < set(everything)
    assert len(ids("newsletter=daily&status=sent")) == 2
    assert len(ids("status=failed")) == 1
    for bad in ("newsletter=nope", "status=done", "limit=501"):
        assert client.get(f"/api/v1/sends?{bad}", headers=reader_key).status_code == 422
    # each send on a page shows its own parked batches (read for the whole page at once)
    failed = db.session.scalars(select(Send).where(Send.status == "failed")).one()
    db.session.add(SendBatch(send_id=failed.id, after_id=0, upto_id=9, status="failed",
                             error="cannot decode"))  # fmt: skip
    db.session.commit()
    page = client.get("/api/v1/sends?limit=500", headers=reader_key).json["sends"]
    parked = {s["id"]: [b["error"] for b in s["failed_batches"]] for s in page}
    assert parked == {i: ["cannot decode"] if i == failed.id else [] for i in everything}
    single = client.get(f"/api/v1/sends/{failed.id}", headers=reader_key).json
    assert single["failed_batches"] == page[everything.index(failed.id)]["failed_batches"]
    # and its digest's skipped articles, read without loading the frozen content
    failed.content = {"articles": [{"title": "x"}], "skipped": {"late": 2}}
    db.session.commit()
    page = client.get("/api/v1/sends?limit=500", headers=reader_key).json["sends"]
    skipped = {s["id"]: s["articles_skipped"] for s in page}
    assert skipped == {i: {"late": 2} if i == failed.id else {} for i in everything}


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(["email", "email_prefix", "source", "created_after", "cursor"]),
    text=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60),
)
def test_any_text_in_a_filter_is_an_answer_or_a_422(unit_app, reader_key, field, text):
    """Untrusted text into the SQL of a filter or a cursor: a page, or a 422 naming it."""
    answer = unit_app.test_client().get(
        "/api/v1/subscribers", query_string={field: text}, headers=reader_key
    )
    assert answer.status_code in (200, 422), (field, text, answer.get_data()[:200])
    if answer.status_code == 422:
        assert answer.json["field"] == field


def _article(n: int, published, section: str = "News") -> Article:
    article = Article(url=f"https://news.example.org/{n}", title=f"Story {n}", section=section,
                      published_at=published)  # fmt: skip
    db.session.add(article)
    db.session.commit()
    return article


def titles(client, headers, query: str = "", limit: int = 3, between=None) -> list[str]:
    """Every page of `GET /api/v1/articles?query`, in order; `between()` runs after page one."""
    seen, cursor = [], None
    while True:
        page = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(f"/api/v1/articles?{query}&{page}", headers=headers)
        assert answer.status_code == 200, answer.json
        seen += [a["title"] for a in answer.json["articles"]]
        cursor = answer.json["next"]
        if between is not None and len(seen) == limit:
            between()
        if cursor is None:
            return seen


def test_articles_page_newest_first_through_inserts_and_deletes(unit_app, reader_key):
    start = utcnow() - timedelta(days=30)
    # ties: articles 4 and 5 share a publication time, the id keeps them apart
    stories = [_article(n, start + timedelta(days=min(n, 4))) for n in range(10)]
    client = unit_app.test_client()
    newest_first = [f"Story {n}" for n in (9, 8, 7, 6, 5, 4, 3, 2, 1, 0)]
    assert titles(client, reader_key) == newest_first

    def churn() -> None:  # one gone ahead, one gone behind, one new ahead, one new behind
        db.session.execute(delete(Article).where(Article.id.in_([stories[8].id, stories[2].id])))
        db.session.commit()
        _article(10, start + timedelta(days=4))  # ties with 4..9, a higher id: behind the page
        _article(11, start - timedelta(days=1))  # the oldest: still to come

    seen = titles(client, reader_key, between=churn)
    assert seen == ["Story 9", "Story 8", "Story 7", "Story 6", "Story 5", "Story 4",
                    "Story 3", "Story 1", "Story 0", "Story 11"]  # fmt: skip
    assert len(seen) == len(set(seen))


def test_articles_filter_by_section_and_publication_time(unit_app, reader_key):
    day = utcnow().replace(hour=12) - timedelta(days=5)
    _article(1, day, "Culture")
    _article(2, day + timedelta(days=1), "News")
    _article(3, day + timedelta(days=2), "Culture")
    client = unit_app.test_client()
    assert titles(client, reader_key, "section=Culture") == ["Story 3", "Story 1"]
    after = (day + timedelta(hours=1)).isoformat().replace("+", "%2B")
    assert titles(client, reader_key, f"published_after={after}") == ["Story 3", "Story 2"]
    before = (day + timedelta(days=1, hours=1)).date().isoformat()
    assert titles(client, reader_key, f"section=Culture&published_before={before}") == ["Story 1"]
    for bad in ("section=", "section=" + "x" * 101, "published_after=soon",
                "published_before=2026-02-30", "limit=501", "cursor=x",
                "cursor=WyJub3QgYSB0aW1lIiwxXQ"):  # fmt: skip
        answer = client.get(f"/api/v1/articles?{bad}", headers=reader_key)
        assert answer.status_code == 422, bad
        assert answer.json["field"] == bad.split("=")[0], bad
    assert client.get("/api/v1/articles").status_code == 401
