"""A newsletter's life (issue 21): hidden from public pages, archived (no sends, no signups,
readers kept), deleted only while nobody confirmed and nothing was sent; through the admin
API and the CLI, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from service.extensions import db
from service.leaving.links import preferences_token
from service.lists.newsletters import get_newsletter
from service.models import Newsletter, Send, SendStatus, Subscription, SubscriptionStatus, utcnow
from service.sending import fanout, scheduling
from tests.functional.test_newsletter_content import api, article, create
from tests.support.readers import add_reader

PUBLIC_PAGES = ("/embed/newsletters.json", "/subscribe")


def listed(client, slug: str) -> dict[str, bool]:
    """Where `slug` shows on the public pages that list newsletters."""
    return {path: slug in client.get(path).get_data(as_text=True) for path in PUBLIC_PAGES}


def signup(client, slug: str):
    body = {"email": f"reader-{uuid.uuid4().hex[:8]}@gmail.com", "newsletters": [slug]}
    return client.post("/api/v1/subscriptions", json=body)


def model(slug: str) -> Newsletter:
    db.session.commit()
    return get_newsletter(slug)


def test_a_hidden_newsletter_leaves_the_public_pages_but_keeps_sending(client, api_key):
    made = create(client, api_key, is_public=False)
    slug = made["slug"]
    assert listed(client, slug) == dict.fromkeys(PUBLIC_PAGES, False)
    assert client.get(f"/forms/{slug}").status_code == 404
    assert client.get(f"/archive/{slug}").status_code == 404
    assert signup(client, slug).status_code == 202  # the site's own form may still name it
    path = f"/api/v1/newsletters/{slug}"
    assert api(client, api_key, "PATCH", path, {"is_public": True}).status_code == 200
    assert listed(client, slug) == dict.fromkeys(PUBLIC_PAGES, True)
    assert client.get(f"/forms/{slug}").status_code == 200


def test_an_archived_newsletter_sends_nothing_and_keeps_its_readers(client, api_key):
    made = create(client, api_key, schedule="0 7 * * *")
    slug, path = made["slug"], f"/api/v1/newsletters/{made['slug']}"
    news = model(slug)
    reader = add_reader(news)
    other = add_reader(create_model(client, api_key))
    waiting = Send(newsletter_id=news.id, scheduled_at=utcnow() + timedelta(hours=1))
    db.session.add(waiting)
    db.session.commit()
    assert api(client, api_key, "PATCH", path, {"archived": True}).get_json()["archived"]

    assert listed(client, slug) == dict.fromkeys(PUBLIC_PAGES, False)
    assert client.get(f"/archive/{slug}").status_code == 404
    refused = signup(client, slug)
    assert refused.status_code == 422 and refused.get_json()["code"] == "unknown_newsletter"
    send = api(client, api_key, "POST", f"{path}/sends")
    assert send.status_code == 409 and send.get_json()["code"] == "newsletter_archived"
    later = utcnow() + timedelta(days=1)
    assert scheduling.create_cron_sends(later, only=[news.id]) == 0
    waiting.scheduled_at = utcnow()
    db.session.commit()
    assert fanout.start_send(waiting.id) is False
    db.session.refresh(waiting)
    assert (waiting.status, waiting.status_reason) == (
        SendStatus.SKIPPED,
        "the newsletter is archived",
    )
    # its readers are kept; their preference pages no longer offer it
    status = db.session.scalar(
        select(Subscription.status).where(Subscription.subscriber_id == reader.id)
    )
    assert status == SubscriptionStatus.CONFIRMED
    page = client.get(f"/preferences/{preferences_token(other.id)}").get_data(as_text=True)
    assert made["name"] not in page

    assert api(client, api_key, "PATCH", path, {"archived": False}).status_code == 200
    assert signup(client, slug).status_code == 202


def create_model(client, api_key) -> Newsletter:
    return model(create(client, api_key)["slug"])


def test_delete_only_what_nobody_confirmed_and_nothing_was_sent(client, api_key):
    kept = create_model(client, api_key)
    add_reader(kept)
    refused = api(client, api_key, "DELETE", f"/api/v1/newsletters/{kept.slug}")
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "newsletter_in_use"
    assert (refused.get_json()["readers"], refused.get_json()["sends"]) == (1, 0)
    assert "archive it instead" in refused.get_json()["message"]

    sent = create_model(client, api_key)
    db.session.add(Send(newsletter_id=sent.id, status=SendStatus.SENT, started_at=utcnow()))
    db.session.commit()
    assert api(client, api_key, "DELETE", f"/api/v1/newsletters/{sent.slug}").status_code == 409

    gone = create_model(client, api_key)
    add_reader(gone, status=SubscriptionStatus.PENDING)
    db.session.add(Send(newsletter_id=gone.id, status=SendStatus.SKIPPED))
    db.session.commit()
    answer = api(client, api_key, "DELETE", f"/api/v1/newsletters/{gone.slug}")
    assert answer.status_code == 204
    assert model(gone.slug) is None
    assert api(client, api_key, "DELETE", f"/api/v1/newsletters/{gone.slug}").status_code == 404
    assert signup(client, gone.slug).status_code == 422


def run(app, *args: str, **options):
    return app.test_cli_runner().invoke(args=list(args), **options)


def test_the_cli_sets_content_and_life_and_names_its_mistakes(app, client, api_key):
    slug, section = f"cli-{uuid.uuid4().hex[:6]}", f"Culture-{uuid.uuid4().hex[:6]}"
    made = run(
        app,
        *("newsletters", "create", slug, "--name", "Culture Weekly", "--section", section),
        *("--tag", "art", "--hidden", "--late-articles", "skip"),
    )
    assert made.exit_code == 0, made.output
    news = model(slug)
    assert news.filters == {"sections": [section], "tags": ["art"]}
    assert (news.is_public, news.late_articles) == (False, "skip")
    listing = run(app, "newsletters", "list").output
    assert f"(hidden; sections {section}; tags art; late articles skipped)" in listing

    changed = run(app, "newsletters", "update", slug, "--all-tags", "--public", "--archive")
    assert changed.exit_code == 0, changed.output
    news = model(slug)
    assert (news.filters, news.is_public, news.archived) == ({"sections": [section]}, True, True)
    refused = run(app, "digest", "send", slug)
    assert (
        refused.exit_code == 1 and "archived" in refused.output and "--unarchive" in refused.output
    )
    bad = run(app, "newsletters", "update", slug, "--feed-url", "ftp://example.org/x")
    assert bad.exit_code == 2 and "--feed-url" in bad.output and "Traceback" not in bad.output
    feed = run(app, "newsletters", "update", slug, "--feed-url", "https://example.org/f.xml")
    assert feed.exit_code == 0 and model(slug).feed_url == "https://example.org/f.xml"
    assert run(app, "newsletters", "update", slug, "--no-feed").exit_code == 0
    assert model(slug).feed_url is None

    add_reader(model(slug))
    kept = run(app, "newsletters", "delete", slug, "--yes")
    assert kept.exit_code == 1 and "1 confirmed reader(s)" in kept.output
    assert f"newsletter newsletters update {slug} --archive" in kept.output
    empty = f"empty-{uuid.uuid4().hex[:6]}"
    assert run(app, "newsletters", "create", empty, "--name", "Empty").exit_code == 0
    assert run(app, "newsletters", "delete", empty, input="n\n").exit_code == 1
    deleted = run(app, "newsletters", "delete", empty, input="y\n")
    assert deleted.exit_code == 0 and f"deleted {empty}" in deleted.output
    assert model(empty) is None


def test_the_cli_preview_says_what_it_skipped(app, client, api_key):
    section = f"Late-{uuid.uuid4().hex[:6]}"
    slug = create(client, api_key, sections=[section], late_articles="skip")["slug"]
    news = model(slug)
    started = utcnow() - timedelta(hours=1)
    db.session.add(Send(newsletter_id=news.id, status=SendStatus.SENT, started_at=started))
    db.session.commit()
    late = (started - timedelta(minutes=5)).isoformat()
    article(client, api_key, section=section, published_at=late)
    shown = run(app, "digest", "preview", slug)
    assert shown.exit_code == 0, shown.output
    assert "1 article(s) skipped: 1 published before the last send started" in shown.stderr
    assert "skipped: fewer than 1 new article(s)" in shown.stdout
