"""Articles in: canonical URLs, sanitizing, upsert, batches, RSS 2.0 and Atom feeds."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import func, select

from service.digests.articles import (
    ArticleError,
    canonical_url,
    sanitize_summary,
    upsert_article,
    upsert_articles,
)
from service.digests.feeds import FeedError, import_feed, poll_feed, poll_newsletter_feeds
from service.extensions import db
from service.models import Article, FeedState, Newsletter

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_canonical_url_drops_tracking_fragment_and_default_port():
    url = "HTTPS://News.Example.org:443/a/b?utm_source=x&id=3&fbclid=y&UTM_Campaign=z#top"
    assert canonical_url(url) == "https://news.example.org/a/b?id=3"
    assert canonical_url("http://example.org:8080") == "http://example.org:8080/"


@pytest.mark.parametrize("bad", ["", "javascript:alert(1)", "/relative/path", "ftp://x.org/a"])
def test_canonical_url_rejects_non_http(bad):
    with pytest.raises(ArticleError) as info:
        canonical_url(bad)
    assert info.value.field == "url"


def test_sanitize_summary_removes_script_and_keeps_text():
    html, text = sanitize_summary(
        '<p>One &amp; <b>two</b></p><script>alert(1)</script><p onclick="x()">'
        '<a href="javascript:evil()">three</a></p>'
    )
    assert "<script" not in html and "onclick" not in html and "javascript:" not in html
    assert "<b>two</b>" in html
    assert text == "One & two\n\nthree"


def test_upsert_creates_then_updates_by_canonical_url(sqlite_app):
    data = {
        "url": "https://news.example.org/x?utm_source=a",
        "title": "First",
        "published_at": "2026-11-24T10:00:00+02:00",
        "authors": ["A"],
    }
    article, created = upsert_article(data)
    assert created and article.url == "https://news.example.org/x"
    assert article.published_at == datetime(2026, 11, 24, 8, tzinfo=UTC)
    again, created = upsert_article(
        {**data, "url": "https://news.example.org/x#c", "title": "Second"}
    )
    assert not created and again.id == article.id
    assert db.session.get(Article, article.id).title == "Second"
    assert db.session.scalar(select(func.count(Article.id))) == 1


def test_batch_reports_bad_items_and_keeps_good_ones(sqlite_app):
    results = upsert_articles(
        [
            {"url": "https://news.example.org/a", "title": "A"},
            {"url": "not a url", "title": "B"},
            {"url": "https://news.example.org/c"},
            "not an object",
            {"url": "https://news.example.org/d", "title": "D", "published_at": "yesterday"},
            {"url": "https://news.example.org/a?utm_medium=x", "title": "A2"},
        ]
    )
    assert [r.status for r in results] == ["created", "error", "error", "error", "error", "updated"]
    assert [r.field for r in results if r.status == "error"] == [
        "url",
        "title",
        "body",
        "published_at",
    ]
    assert db.session.scalar(select(func.count(Article.id))) == 1


def test_rss2_fixture(sqlite_app):
    result = import_feed(str(FIXTURES / "rss2.xml"))
    assert [i.status for i in result.items] == ["created", "created", "error"]
    metro = db.session.scalar(select(Article).where(Article.guid == "news-example-1001"))
    assert metro.url == "https://news.example.org/news/kyiv-metro-shelter?id=7"
    assert metro.authors == ["Olena Hrytsenko"]
    assert metro.section == "Ukraine war" and metro.tags == ["Ukraine war", "Kyiv"]
    assert metro.image_url == "https://img.example.org/metro.jpg"
    assert metro.published_at == datetime(2026, 11, 24, 3, 30, tzinfo=UTC)
    assert "<script" not in metro.summary_html
    assert (
        metro.summary_text == "Residents spent the night underground & waited.\n\nSecond paragraph."
    )
    budget = db.session.scalar(select(Article).where(Article.title.like("Parliament%")))
    assert budget.image_url == "https://img.example.org/budget.jpg"
    # importing again updates, never duplicates
    again = import_feed(str(FIXTURES / "rss2.xml"))
    assert again.count("updated") == 2
    assert db.session.scalar(select(func.count(Article.id))) == 2


def test_atom_fixture(sqlite_app):
    result = import_feed(str(FIXTURES / "atom.xml"))
    assert [i.status for i in result.items] == ["created", "created", "error"]
    energy = db.session.scalar(select(Article).where(Article.section == "Explainers"))
    assert energy.url == "https://news.example.org/explainers/winter-energy"
    assert energy.authors == ["Kate Tsurkan"]
    assert energy.image_url == "https://img.example.org/energy.png"
    assert energy.published_at == datetime(2026, 11, 24, 5, 15, tzinfo=UTC)
    assert "onerror" not in energy.summary_html
    assert energy.summary_text == "Why the grid holds & what could break it."
    report = db.session.scalar(select(Article).where(Article.url.like("%kharkiv-report")))
    assert report.title == "Без назви: репортаж з Харкова"
    assert report.authors == ["Dmytro Basmat", "Olena Hrytsenko"]
    assert report.summary_text == "Текст репортажу."


def test_not_a_feed_is_an_error(sqlite_app, tmp_path):
    junk = tmp_path / "junk.xml"
    junk.write_text("this is not xml at all <<<")
    with pytest.raises(FeedError):
        import_feed(str(junk))
    with pytest.raises(FeedError):
        import_feed(str(tmp_path / "missing.xml"))


class _FeedHandler(BaseHTTPRequestHandler):
    """Serves the RSS fixture with validators; answers 304 when the client sends them back."""

    etag = '"rss-v1"'
    modified = "Tue, 24 Nov 2026 08:00:00 GMT"
    seen: ClassVar[list[dict[str, str | None]]] = []

    def do_GET(self):
        self.seen.append(
            {
                "if_none_match": self.headers.get("If-None-Match"),
                "if_modified_since": self.headers.get("If-Modified-Since"),
            }
        )
        if self.headers.get("If-None-Match") == self.etag:
            self.send_response(304)
            self.end_headers()
            return
        body = (FIXTURES / "rss2.xml").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("ETag", self.etag)
        self.send_header("Last-Modified", self.modified)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def feed_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FeedHandler)
    _FeedHandler.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    server.shutdown()
    server.server_close()


def test_polling_uses_etag_and_last_modified(sqlite_app, feed_server):
    newsletter = Newsletter(slug="polled", name="Polled", feed_url=feed_server)
    db.session.add(newsletter)
    db.session.commit()
    first = poll_newsletter_feeds()
    assert first == {feed_server: "2 created, 0 updated, 1 skipped"}
    state = db.session.scalar(select(FeedState).where(FeedState.url == feed_server))
    assert (state.etag, state.modified) == (_FeedHandler.etag, _FeedHandler.modified)
    second = poll_feed(feed_server)
    assert second.not_modified and second.items == []
    assert _FeedHandler.seen[0] == {"if_none_match": None, "if_modified_since": None}
    assert _FeedHandler.seen[1] == {
        "if_none_match": _FeedHandler.etag,
        "if_modified_since": _FeedHandler.modified,
    }
    assert db.session.scalar(select(func.count(Article.id))) == 2


def test_cli_import_feed_reports_skipped_items(sqlite_app):
    runner = sqlite_app.test_cli_runner()
    result = runner.invoke(args=["articles", "import-feed", str(FIXTURES / "atom.xml")])
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 1 skipped" in result.stdout
    assert "item 3: skipped (url: url must be an absolute http(s) URL)" in result.stderr
    bad = runner.invoke(args=["articles", "import-feed", "/nonexistent/feed.xml"])
    assert bad.exit_code != 0


def test_a_newsletters_feed_marks_its_articles_and_others_stay_the_sites(sqlite_app, feed_server):
    site = import_feed(str(FIXTURES / "atom.xml"))  # a file no newsletter owns: the site's
    assert site.count("created") == 2
    assert set(db.session.scalars(select(Article.source_feed))) == {None}
    db.session.add(Newsletter(slug="partner", name="Partner", feed_url=feed_server))
    db.session.commit()
    assert poll_newsletter_feeds() == {feed_server: "2 created, 0 updated, 1 skipped"}
    sources = db.session.scalars(select(Article.source_feed).order_by(Article.id)).all()
    assert sources == [None, None, feed_server, feed_server]
    archived = Newsletter(slug="old", name="Old", feed_url="http://127.0.0.1:9/x", archived=True)
    db.session.add(archived)
    db.session.commit()
    assert "http://127.0.0.1:9/x" not in poll_newsletter_feeds()  # an archived one is not polled
