"""Each newsletter its own content (issue 21): sections, tags and its own feed through the
admin API, late articles taken or skipped (and said so), and an archive without issues that
went to nobody. On SQLite and PostgreSQL, with a real worker sending.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from service.digests.feeds import poll_feed
from service.extensions import db
from service.lists.newsletters import get_newsletter
from service.models import Send, SendStatus, utcnow
from tests.functional.test_sending import FINAL, wait_status
from tests.support.readers import add_reader

AUTH = "Authorization"


def api(client, key, method: str, path: str, body=None):
    return client.open(path, method=method, json=body, headers={AUTH: f"Bearer {key}"})


def create(client, key, **fields) -> dict:
    slug = fields.pop("slug", f"nl-{uuid.uuid4().hex[:8]}")
    answer = api(client, key, "POST", "/api/v1/newsletters", {"slug": slug, "name": slug, **fields})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def article(client, key, **fields) -> str:
    """Push an article through the API; returns its (unique) title."""
    title = fields.pop("title", f"Story {uuid.uuid4().hex[:8]}")
    body = {"url": f"https://news.example.org/{uuid.uuid4().hex}", "title": title, **fields}
    answer = api(client, key, "POST", "/api/v1/articles", body)
    assert answer.status_code in (200, 201), answer.get_json()
    return title


def preview(client, key, slug: str):
    return api(client, key, "GET", f"/api/v1/digest-preview/{slug}?format=text")


def test_the_api_takes_and_shows_the_content_fields(client, api_key):
    made = create(
        client,
        api_key,
        sections=["Culture", " Books ", "Culture"],
        tags=["art"],
        feed_url="http://127.0.0.1:9/culture.xml",
        is_public=False,
        late_articles="skip",
    )
    assert made["sections"] == ["Culture", "Books"] and made["tags"] == ["art"]
    assert made["feed_url"] == "http://127.0.0.1:9/culture.xml"
    assert (made["is_public"], made["archived"], made["late_articles"]) == (False, False, "skip")
    path = f"/api/v1/newsletters/{made['slug']}"
    changed = api(client, api_key, "PATCH", path, {"sections": [], "archived": True}).get_json()
    assert changed["sections"] == [] and changed["tags"] == ["art"] and changed["archived"]
    listed = api(client, api_key, "GET", "/api/v1/newsletters").get_json()["newsletters"]
    assert next(n for n in listed if n["slug"] == made["slug"])["archived"] is True
    for field, value in [
        ("feed_url", "ftp://example.org/feed"),
        ("feed_url", "not a url"),
        ("is_public", "yes"),
        ("archived", 1),
        ("late_articles", "later"),
        ("sections", "x" * 101),
        ("tags", 5),
    ]:
        refused = api(client, api_key, "PATCH", path, {field: value})
        assert refused.status_code == 422, (field, value)
        assert refused.get_json()["field"] == field


def test_each_newsletter_takes_its_sections_and_tags(client, api_key):
    key = uuid.uuid4().hex[:6]
    culture = create(client, api_key, name="Culture Weekly", sections=[f"Culture-{key}"])
    tagged = create(client, api_key, tags=[f"art-{key}"])
    everything = create(client, api_key)
    war = article(client, api_key, section=f"War-{key}", title=f"War report {key}")
    art = article(client, api_key, section=f"culture-{key}", tags=[f"ART-{key}"])
    shown = preview(client, api_key, culture["slug"]).get_data(as_text=True)
    assert art in shown and war not in shown  # the war report is not Culture Weekly's top story
    assert art in preview(client, api_key, tagged["slug"]).get_data(as_text=True)
    both = preview(client, api_key, everything["slug"]).get_data(as_text=True)
    assert art in both and war in both


class _Feed(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def feed():
    """A newsletter's own RSS feed on 127.0.0.1 with two fresh items: (url, titles)."""
    key = uuid.uuid4().hex[:8]
    when = format_datetime(utcnow() - timedelta(minutes=5))
    titles = [f"Feed story {key} {n}" for n in (1, 2)]
    items = "".join(
        f"<item><title>{title}</title><link>https://partner.example.org/{key}/{n}</link>"
        f"<pubDate>{when}</pubDate></item>"
        for n, title in enumerate(titles)
    )
    _Feed.body = f'<rss version="2.0"><channel><title>F</title>{items}</channel></rss>'.encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{key}.xml", titles
    server.shutdown()
    server.server_close()


def test_a_newsletters_own_feed_goes_to_it_alone(client, api_key, feed):
    url, titles = feed
    own = create(client, api_key, feed_url=url)
    site = create(client, api_key)
    site_story = article(client, api_key)
    assert poll_feed(url).summary() == "2 created, 0 updated, 0 skipped"
    shown = preview(client, api_key, own["slug"]).get_data(as_text=True)
    assert all(title in shown for title in titles) and site_story not in shown
    other = preview(client, api_key, site["slug"]).get_data(as_text=True)
    assert site_story in other and not any(title in other for title in titles)


def test_a_late_article_is_taken_by_the_next_digest_or_skipped_and_said(client, api_key, smtp):
    section = f"Late-{uuid.uuid4().hex[:6]}"
    made = create(client, api_key, sections=[section])
    db.session.commit()
    add_reader(get_newsletter(made["slug"]))
    first = article(client, api_key, section=section)
    send_id = api(client, api_key, "POST", f"/api/v1/newsletters/{made['slug']}/sends").get_json()
    done = wait_status(client, api_key, send_id["id"], FINAL, timeout=60)
    assert done["status"] == "sent" and done["sent"] == 1
    started = db.session.get(Send, send_id["id"]).started_at
    # published a minute before that send started, but pushed only now: it arrived late
    before = (started - timedelta(minutes=1)).isoformat()
    late = article(client, api_key, section=section, published_at=before)
    taken = preview(client, api_key, made["slug"])
    assert taken.status_code == 200 and late in taken.get_data(as_text=True)
    assert first not in taken.get_data(as_text=True) and "Digest-Skipped" not in taken.headers

    path = f"/api/v1/newsletters/{made['slug']}"
    assert api(client, api_key, "PATCH", path, {"late_articles": "skip"}).status_code == 200
    old = (started - timedelta(days=3)).isoformat()
    article(client, api_key, section=section, published_at=old)  # a backlog: always too old
    nothing = preview(client, api_key, made["slug"])
    assert nothing.status_code == 404
    assert nothing.get_json()["code"] == "no_articles"
    assert nothing.get_json()["skipped"] == {"late": 1, "too_old": 1}
    fresh = article(client, api_key, section=section)
    shown = preview(client, api_key, made["slug"])
    assert fresh in shown.get_data(as_text=True) and late not in shown.get_data(as_text=True)
    assert shown.headers["Digest-Skipped"].startswith("2 article(s) skipped: 1 published before")
    second = api(client, api_key, "POST", f"/api/v1/newsletters/{made['slug']}/sends").get_json()
    ended = wait_status(client, api_key, second["id"], FINAL, timeout=60)
    assert ended["status"] == "sent"
    assert ended["articles_skipped"] == {"late": 1, "too_old": 1}


def test_the_archive_never_lists_an_issue_that_went_to_nobody(client, newsletter):
    news = newsletter()
    now = utcnow()
    issues = {}
    for subject, sent in (("Went to nobody", 0), ("Went to two readers", 2)):
        send = Send(
            newsletter_id=news.id,
            status=SendStatus.SENT,
            subject=subject,
            total=sent,
            sent=sent,
            started_at=now,
            finished_at=now,
            content={"article_ids": [len(issues) + 1]},
            body_html=f"<html><body>{subject}</body></html>",
        )
        db.session.add(send)
        db.session.commit()
        issues[subject] = send.id
    page = client.get(f"/archive/{news.slug}").get_data(as_text=True)
    assert "Went to two readers" in page and "Went to nobody" not in page
    assert client.get(f"/archive/{news.slug}/{issues['Went to nobody']}").status_code == 404
    assert client.get(f"/archive/{news.slug}/{issues['Went to two readers']}").status_code == 200
