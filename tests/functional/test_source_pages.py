"""The pages that bring signups, kept in the transaction of each change: after a mixed run of
signups from several pages (one with a query string, one on a foreign origin, one with no page),
confirmations by the link and by a confirmed import, and a reader who left and signed up again
elsewhere, the page figures equal a full count from the consent records and subscription events
(SQLite and PostgreSQL); a day names a bounded number of pages; a rolled-back confirmation
counts nothing; the admin API, the CLI and the console's dashboard show the top pages."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from service.access.keys import create_api_key
from service.addresses import parse_address
from service.extensions import db
from service.leaving import changes
from service.lists.csv_rows import read_csv
from service.lists.imports import ImportMode, import_subscribers
from service.models import (
    ConsentRecord,
    Newsletter,
    NewsletterSourceDay,
    Subscriber,
    Subscription,
    SubscriptionEvent,
)
from service.signup.accept import SignupRequest, subscribe
from service.signup.confirm import confirm, confirmation_token
from service.sources import pages, tally
from service.staff.accounts import create_member
from tests.conftest import apply_signups_here, plain_app, scratch_postgres

SITE = "https://news.example.org"  # the service's ALLOWED_ORIGINS
PARTNER = "https://partner.example.com"  # only `news` allows it
PUBLIC_URL = "http://127.0.0.1:5999"  # the tests' PUBLIC_URL (tests.conftest.stack_env)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request, tmp_path, redis_server):
    """A plain app (no worker) on each backend, its site on `SITE`."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 's.db'}"
        with plain_app(url, redis_server, tmp_path, ALLOWED_ORIGINS=[SITE]) as app:
            yield app
    else:
        with (
            scratch_postgres() as url,
            plain_app(url, redis_server, tmp_path, ALLOWED_ORIGINS=[SITE]) as app,
        ):
            yield app


def _newsletter(slug: str, origins: list[str] | None = None) -> Newsletter:
    newsletter = Newsletter(slug=slug, name=slug.title(), allowed_origins=origins or [])
    db.session.add(newsletter)
    db.session.commit()
    return newsletter


def _reader(email: str) -> Subscriber:
    return db.session.scalars(select(Subscriber).where(Subscriber.email_key == email)).one()


def _signup(email: str, slugs: tuple[str, ...], source_url: str | None) -> None:
    subscribe(SignupRequest(parse_address(email), slugs, source_url=source_url))


def _stored(newsletter_id: int) -> dict[tuple[date, str], tuple[int, int]]:
    rows = db.session.scalars(
        select(NewsletterSourceDay).where(NewsletterSourceDay.newsletter_id == newsletter_id)
    )
    return {(r.day, r.page): (r.signups, r.confirmations) for r in rows}


def _recount(newsletter: Newsletter) -> dict[tuple[date, str], tuple[int, int]]:
    """The full count, from the records: each pending subscription a signup form made (its
    event, cause `signup`) under the page of the consent record written with it, and each
    move from pending to confirmed under the page of the last signup that made it pending."""
    origins = pages.own_origins([SITE], PUBLIC_URL) | set(newsletter.allowed_origins)
    consents = {
        (c.subscriber_id, c.created_at): c.source_url
        for c in db.session.scalars(select(ConsentRecord).where(ConsentRecord.action == "signup"))
    }
    events = db.session.execute(
        select(SubscriptionEvent, Subscription.subscriber_id)
        .join(Subscription, Subscription.id == SubscriptionEvent.subscription_id)
        .where(Subscription.newsletter_id == newsletter.id)
        .order_by(SubscriptionEvent.id)
    ).all()
    counts: Counter[tuple[date, str, str]] = Counter()
    made_on: dict[int, str] = {}  # subscription -> page of the signup that made it pending
    for event, subscriber_id in events:
        day = event.created_at.date()
        if event.cause == "signup" and event.to_status == "pending":
            source = consents[(subscriber_id, event.created_at)]
            made_on[event.subscription_id] = pages.page_of(source, frozenset(origins))
            counts[(day, made_on[event.subscription_id], "signups")] += 1
        elif (event.from_status, event.to_status) == ("pending", "confirmed") and (
            event.subscription_id in made_on
        ):
            counts[(day, made_on[event.subscription_id], "confirmations")] += 1
    keys = {(day, page) for day, page, _ in counts}
    return {
        (day, page): (counts[(day, page, "signups")], counts[(day, page, "confirmations")])
        for day, page in keys
    }


def test_the_page_figures_equal_a_full_count_after_a_mixed_run(any_app):
    news, weekly = _newsletter("news", [PARTNER]), _newsletter("weekly")
    r = [f"reader{n}@gmail.com" for n in range(8)]
    _signup(r[0], ("news", "weekly"), f"{SITE.upper()}:443/culture/a?utm_source=mail&t=secret#top")
    _signup(r[1], ("news",), f"{SITE}/culture/a")
    _signup(r[2], ("news", "weekly"), f"{PARTNER}/embed/box")  # named for news only
    _signup(r[3], ("news",), "https://evil.example.net/x?y=1")  # a foreign origin
    _signup(r[4], ("news",), None)  # no page
    _signup(r[5], ("news",), f"{PUBLIC_URL}/subscribe?newsletter=news")
    _signup(r[6], ("news",), "javascript:alert(1)")
    apply_signups_here()
    _signup(r[1], ("news",), f"{SITE}/elsewhere")  # already pending: makes nothing
    apply_signups_here()
    for email in (r[0], r[2], r[3]):
        confirm(confirmation_token(_reader(email)))
    changes.unsubscribe(_reader(r[1]).id, news.id, "link")  # pending, leaves...
    _signup(r[1], ("news",), f"{SITE}/opinion/b")  # ...and signs up again on another page
    apply_signups_here()
    confirm(confirmation_token(_reader(r[1])))
    listed = "email\n" + "\n".join([r[4], "imported@gmail.com"]) + "\n"
    import_subscribers(read_csv(io.StringIO(listed)), news, mode=ImportMode.CONFIRMED,
                       consent="paper form")  # fmt: skip  # r[4] was pending: confirmed now

    today = datetime.now(UTC).date()
    for newsletter in (news, weekly):
        assert _stored(newsletter.id) == _recount(newsletter)
    assert _stored(news.id) == {
        (today, f"{SITE}/culture/a"): (2, 1),  # r0 (query and fragment gone), r1 (left)
        (today, f"{SITE}/opinion/b"): (1, 1),  # r1 again, then confirmed: counted here
        (today, f"{PARTNER}/embed/box"): (1, 1),
        (today, "other"): (2, 1),  # r3's foreign origin, r6's javascript:
        (today, "direct"): (1, 1),  # r4, confirmed by the import
        (today, f"{PUBLIC_URL}/subscribe"): (1, 0),
    }
    assert _stored(weekly.id) == {
        (today, f"{SITE}/culture/a"): (1, 1),
        (today, "other"): (1, 1),  # the partner allows only news
    }
    assert _reader(r[1]).subscriptions[0].signup_page == f"{SITE}/opinion/b"
    assert db.session.scalar(
        select(Subscription.signup_page).join(Subscriber).where(
            Subscriber.email_key == "imported@gmail.com"
        )
    ) is None  # fmt: skip


def test_a_rolled_back_confirmation_counts_nothing(any_app):
    news = _newsletter("news")
    _signup("olena@gmail.com", ("news",), f"{SITE}/a")
    apply_signups_here()
    _reader("olena@gmail.com").subscriptions[0].move_to("confirmed", "confirm")
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert _stored(news.id) == {(datetime.now(UTC).date(), f"{SITE}/a"): (1, 0)}


def test_a_day_names_a_bounded_number_of_pages(any_app):
    """Random pages posted on an allowed origin fill one day's places, then count as `other`;
    a page the day holds keeps counting under its name."""
    news = _newsletter("news")
    day, bound = date(2026, 3, 1), tally.PAGES_PER_DAY
    first = tally.PageTally()
    for n in range(bound + 5):
        first.add(news.id, day, f"{SITE}/p{n:04d}", signups=1)
    tally.write(db.session(), first)
    db.session.commit()
    again = tally.PageTally()
    again.add(news.id, day, f"{SITE}/p0000", signups=1, confirmations=1)
    again.add(news.id, day, f"{SITE}/new", signups=2)
    again.add(news.id, day + timedelta(days=1), f"{SITE}/new", signups=1)  # a new day: room
    tally.write(db.session(), again)
    db.session.commit()
    stored = _stored(news.id)
    named = [page for (d, page) in stored if d == day and page.startswith(SITE)]
    assert len(named) == bound
    assert stored[(day, "other")] == (5 + 2, 0)
    assert stored[(day, f"{SITE}/p0000")] == (2, 1)
    assert stored[(day + timedelta(days=1), f"{SITE}/new")] == (1, 0)
    total = db.session.scalar(select(func.sum(NewsletterSourceDay.signups)))
    assert total == bound + 5 + 3 + 1  # nothing lost, only folded


def _fill(newsletter_id: int, today: date) -> None:
    rows = tally.PageTally()
    rows.add(newsletter_id, today, f"{SITE}/a", signups=5, confirmations=4)
    rows.add(newsletter_id, today - timedelta(days=3), f"{SITE}/a", signups=5, confirmations=3)
    rows.add(newsletter_id, today, f"{SITE}/b", signups=7, confirmations=2)
    rows.add(newsletter_id, today - timedelta(days=10), f"{SITE}/b", signups=4)
    rows.add(newsletter_id, today, "direct", signups=3, confirmations=3)
    rows.add(newsletter_id, today - timedelta(days=1), "other", signups=1)
    rows.add(newsletter_id, today - timedelta(days=40), f"{SITE}/old", signups=99)
    rows.add(newsletter_id, today, f"{SITE}/late", confirmations=1)  # signed up before
    tally.write(db.session(), rows)
    db.session.commit()


def test_the_api_answers_the_top_pages(any_app):
    news = _newsletter("news")
    today = datetime.now(UTC).date()
    _fill(news.id, today)
    client = any_app.test_client()
    headers = {"Authorization": f"Bearer {create_api_key('reader', ['read'])}"}
    answer = client.get("/api/v1/newsletters/news/sources", headers=headers)
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert (body["newsletter"], body["days"], body["to"]) == ("news", 30, today.isoformat())
    assert body["from"] == (today - timedelta(days=29)).isoformat()
    assert [(p["page"], p["kind"], p["signups"], p["confirmations"], p["confirmation_rate"])
            for p in body["pages"]] == [
        (f"{SITE}/b", "page", 11, 2, 0.1818),
        (f"{SITE}/a", "page", 10, 7, 0.7),
        ("direct", "direct", 3, 3, 1.0),
        ("other", "other", 1, 0, 0.0),
        (f"{SITE}/late", "page", 0, 1, None),
    ]  # fmt: skip
    assert body["totals"] == {"signups": 25, "confirmations": 13, "confirmation_rate": 0.52}
    short = client.get("/api/v1/newsletters/news/sources?days=3&limit=2", headers=headers).json
    assert [(p["page"], p["signups"]) for p in short["pages"]] == [
        (f"{SITE}/b", 7), (f"{SITE}/a", 5)
    ]  # fmt: skip
    year = client.get("/api/v1/newsletters/news/sources?days=366&limit=100", headers=headers)
    assert year.json["pages"][0] == {"page": f"{SITE}/old", "kind": "page", "signups": 99,
                                     "confirmations": 0, "confirmation_rate": 0.0}  # fmt: skip
    for query, field in [("days=0", "days"), ("days=367", "days"), ("days=x", "days"),
                         ("limit=0", "limit"), ("limit=101", "limit")]:  # fmt: skip
        bad = client.get(f"/api/v1/newsletters/news/sources?{query}", headers=headers)
        assert (bad.status_code, bad.json["code"], bad.json["field"]) == (422, "invalid", field)
    assert client.get("/api/v1/newsletters/nope/sources", headers=headers).status_code == 404
    assert client.get("/api/v1/newsletters/news/sources").status_code == 401
    document = client.get("/openapi.json").json
    operation = document["paths"]["/api/v1/newsletters/{slug}/sources"]["get"]
    bounds = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
    assert (bounds["days"]["maximum"], bounds["limit"]["maximum"]) == (366, 100)


def test_the_cli_and_the_dashboard_show_the_top_pages(any_app):
    news = _newsletter("news")
    _fill(news.id, datetime.now(UTC).date())
    result = any_app.test_cli_runner().invoke(
        args=["stats", "news", "--sources", "--days", "30", "--limit", "3"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["page", "signups", "confirmed", "rate"]
    assert lines[1].split() == [f"{SITE}/b", "11", "2", "18%"]
    assert lines[3].split() == ["direct", "3", "3", "100%"]
    assert lines[-1].split() == ["all", "pages", "25", "13", "52%"]
    assert len(lines) == 5
    wrong = any_app.test_cli_runner().invoke(args=["stats", "news", "--sources", "--days", "0"])
    assert wrong.exit_code == 2 and "--days" in wrong.output

    create_member("viewer@newsroom.example.org", "viewer", "a long password for the console")
    client = any_app.test_client()
    sign_in = client.get("/admin/sign-in").get_data(as_text=True)
    token = sign_in.split('name="csrf_token"')[1].split('value="')[1].split('"')[0]
    client.post("/admin/sign-in", data={"email": "viewer@newsroom.example.org",
                "password": "a long password for the console", "csrf_token": token})  # fmt: skip
    page = client.get("/admin/").get_data(as_text=True)
    assert "Pages that bring signups" in page
    assert "News: the last 30 days, top 10 pages" in page
    table = page.split('class="sources-table"')[1].split("</table>")[0]
    assert table.index(f'href="{SITE}/b"') < table.index(f'href="{SITE}/a"')
    assert "No page (direct)" in table and "Pages on other sites" in table
    assert "18%" in table and "/old" not in table  # 40 days ago: outside the 30
