"""Digests out: composition rules, rendering (hostile content, size, HTML validity), archive."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
import time_machine

from service.digests.compose import DigestContent, compose, render_digest
from service.extensions import db
from service.models import Article, Newsletter, Send, SendStatus
from service.seed import seed_demo
from service.sending.personalize import LEGACY

NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
HOSTILE_TITLE = '<script>alert("x")</script> Tom & Jerry\'s "quoted" story'
RTL_TITLE = "חדשות: שלום עולם — مرحبا بالعالم"
URLS = {
    "unsubscribe_url": "https://example.org/unsubscribe/%%UNSUB%%?a=1&b=2",
    "preferences_url": "https://example.org/preferences/%%PREFS%%",
    "view_url": "https://example.org/archive/daily/%%SEND%%",
}


def make_newsletter(**fields) -> Newsletter:
    item = Newsletter(slug=f"nl-{uuid.uuid4().hex[:8]}", name=fields.pop("name", "Daily"), **fields)
    db.session.add(item)
    db.session.commit()
    return item


def make_article(hours_ago: float, title: str | None = None, **fields) -> Article:
    """An article published `hours_ago` before NOW, stored then too unless `stored_hours_ago`."""
    key = uuid.uuid4().hex[:10]
    stored = fields.pop("stored_hours_ago", max(hours_ago, 0))
    article = Article(
        url=f"https://news.example.org/{key}",
        title=title or f"Story {key}",
        summary_text=fields.pop("summary_text", f"Summary of {key}."),
        published_at=NOW - timedelta(hours=hours_ago),
        created_at=NOW - timedelta(hours=stored),
        **fields,
    )
    db.session.add(article)
    db.session.commit()
    return article


def make_send(newsletter: Newsletter, started_at: datetime, status=SendStatus.SENT, **fields):
    send = Send(
        newsletter_id=newsletter.id,
        status=status,
        started_at=started_at,
        scheduled_at=started_at,
        **fields,
    )
    db.session.add(send)
    db.session.commit()
    return send


def test_window_defaults_to_24_hours(sqlite_app):
    newsletter = make_newsletter()
    recent = make_article(2)
    make_article(30)  # outside the window
    make_article(-1)  # in the future: not published yet
    content = compose(newsletter, now=NOW)
    assert content.article_ids == [recent.id]
    assert content.top_story.id == recent.id
    assert content.subject == f"Daily: {recent.title}"


def test_weekly_cron_looks_back_a_week(sqlite_app):
    newsletter = make_newsletter(schedule_cron="0 9 * * 5")
    old = make_article(24 * 5)
    assert compose(newsletter, now=NOW).article_ids == [old.id]


def test_window_starts_at_last_sent_digest_and_skips_what_it_carried(sqlite_app):
    newsletter = make_newsletter()
    before = make_article(10)
    carried = make_article(4)
    after = make_article(2)
    make_send(newsletter, NOW - timedelta(hours=5), content={"article_ids": [carried.id]})
    make_send(newsletter, NOW - timedelta(hours=1), status=SendStatus.FAILED)  # not a sent one
    ids = compose(newsletter, now=NOW).article_ids
    assert after.id in ids and before.id not in ids and carried.id not in ids


def test_sections_limits_and_top_story(sqlite_app):
    newsletter = make_newsletter()
    no_image = make_article(1)
    top = make_article(2, image_url="https://img.example.org/top.jpg", editors_pick=True)
    picks = [make_article(3 + i * 0.1, editors_pick=True) for i in range(7)]
    feed = [make_article(5 + i * 0.1) for i in range(30)]
    content = compose(newsletter, now=NOW)
    assert content.top_story.id == top.id  # newest with an image
    assert [a.id for a in content.editors_picks] == [a.id for a in picks[:5]]
    # picks over the limit stay in the News Feed, which keeps newest-first order up to its limit
    expected_feed = [no_image, *picks[5:], *feed[:22]]
    assert [a.id for a in content.news_feed] == [a.id for a in expected_feed]
    assert len(content.article_ids) == len(set(content.article_ids)) == 1 + 25 + 5


def test_duplicates_are_dropped(sqlite_app):
    newsletter = make_newsletter()
    first = make_article(1, title="Same  story", guid="g-1")
    make_article(2, title="same story")
    make_article(3, title="Other title", guid="g-1")
    assert compose(newsletter, now=NOW).article_ids == [first.id]


def test_filters_by_author_section_and_tag(sqlite_app):
    kate = make_article(1, authors=["Kate Tsurkan"], section="Politics", tags=["war"])
    make_article(2, authors=["Someone Else"], section="Politics", tags=["war"])
    culture = make_article(3, authors=["Kate Tsurkan"], section="Culture", tags=["art"])
    by_author = make_newsletter(filters={"authors": ["kate tsurkan"]})
    assert set(compose(by_author, now=NOW).article_ids) == {kate.id, culture.id}
    by_section = make_newsletter(filters={"authors": ["Kate Tsurkan"], "sections": ["Culture"]})
    assert compose(by_section, now=NOW).article_ids == [culture.id]
    by_tag = make_newsletter(filters={"tags": ["art"]})
    assert compose(by_tag, now=NOW).article_ids == [culture.id]


def test_below_minimum_returns_none(sqlite_app):
    newsletter = make_newsletter(min_new_articles=3)
    assert compose(newsletter, now=NOW) is None  # nothing at all
    make_article(1)
    make_article(2)
    assert compose(newsletter, now=NOW) is None
    make_article(3)
    assert len(compose(newsletter, now=NOW).article_ids) == 3


def test_content_round_trips_through_json(sqlite_app):
    newsletter = make_newsletter()
    make_article(1, image_url="https://img.example.org/a.jpg", authors=["A"], tags=["t"])
    make_article(2, editors_pick=True)
    content = compose(newsletter, now=NOW)
    assert DigestContent.from_dict(content.as_dict()) == content


def render(newsletter, content, locale="en"):
    return render_digest(content, newsletter=newsletter, locale=locale, **URLS)


def test_hostile_content_is_escaped_in_html_and_readable_in_text(sqlite_app):
    newsletter = make_newsletter(name='News & "Views"')
    long_title = "Longword" * 60
    make_article(
        1,
        title=HOSTILE_TITLE,
        summary_text='<img src=x onerror=alert(1)> 5 > 3 & "so"',
        image_url='https://img.example.org/a.jpg?x="><script>',
        authors=["<b>Bold</b> Author"],
    )
    make_article(2, title=RTL_TITLE, editors_pick=True)
    make_article(3, title=long_title)
    content = compose(newsletter, now=NOW)
    email = render(newsletter, content)
    doc = lxml.html.document_fromstring(email.html)
    assert not doc.xpath("//script") and not doc.xpath("//img[@onerror]") and not doc.xpath("//b")
    assert '&lt;script&gt;alert("x")&lt;/script&gt; Tom &amp; Jerry' in email.html
    assert HOSTILE_TITLE in doc.text_content()
    assert RTL_TITLE in doc.text_content()
    rtl = doc.xpath(f'//a[text()="{RTL_TITLE}"]/parent::*')[0]
    assert rtl.get("dir") == "auto"
    # the text part is plain: no entities, everything readable
    assert HOSTILE_TITLE in email.text
    assert '<img src=x onerror=alert(1)> 5 > 3 & "so"' in email.text
    assert long_title in email.text and RTL_TITLE in email.text
    assert "&amp;" not in email.text and "&#34;" not in email.text
    assert email.subject.startswith('News & "Views": ')


def test_links_preheader_footer_and_placeholders(sqlite_app):
    sqlite_app.config.update(
        PUBLISHER_NAME="Example Publisher", PUBLISHER_ADDRESS="1 Main St, Kyiv"
    )
    newsletter = make_newsletter()
    make_article(1, image_url="https://img.example.org/a.jpg")
    make_article(2)
    email = render(newsletter, compose(newsletter, now=NOW), locale="uk")
    doc = lxml.html.document_fromstring(email.html)
    hrefs = doc.xpath("//a/@href")
    for url in URLS.values():
        assert url in hrefs  # placeholders survive verbatim, no url-encoding
        assert url in email.text
    img = doc.xpath("//img")[0]
    assert img.get("alt") and img.get("width") == "552" and img.get("height") == "311"
    assert "Example Publisher · 1 Main St, Kyiv" in doc.text_content()
    assert "Example Publisher · 1 Main St, Kyiv" in email.text
    assert "Відписатися" in doc.text_content() and "Керувати підписками" in email.text
    preheader = doc.xpath("//body/div")[0]
    assert "display:none" in preheader.get("style").replace(" ", "")
    assert "Summary of" in preheader.text_content()
    assert doc.xpath("//style[@data-css-inline]")  # the responsive/dark-mode rules are kept
    assert "style=" in email.html.split("<body")[1]  # css inlined


def test_thirty_articles_stay_under_gmail_clip(sqlite_app):
    newsletter = make_newsletter()
    for i in range(30):
        make_article(
            1 + i * 0.1,
            title=f"A reasonably long headline number {i} about events in Ukraine today",
            summary_text="A summary sentence that goes on for a while. " * 12,
            image_url=f"https://img.example.org/{i}.jpg",
            authors=["Olena Hrytsenko", "Dmytro Basmat"],
            section="Ukraine war",
            editors_pick=i % 4 == 0,
        )
    content = compose(newsletter, now=NOW)
    assert len(content.article_ids) == 30
    email = render(newsletter, content)
    size = len(email.html.encode())
    assert size < 102 * 1024, size
    doc = lxml.html.document_fromstring(email.html)
    assert len(doc.xpath("//h2|//h3")) == 30
    print(f"digest HTML with 30 articles: {size / 1024:.1f} KB")


def test_archive_lists_and_shows_a_stored_issue(sqlite_app):
    newsletter = make_newsletter(name="Archive Daily")
    sent = make_send(
        newsletter,
        NOW,
        total=1,
        sent=1,
        subject="Issue <one> & more",
        body_html=(
            "<html><body><h1>Stored issue body</h1>"
            f'<a href="{sqlite_app.config["PUBLIC_URL"]}/unsubscribe/{LEGACY.unsubscribe}">u</a>'
            "</body></html>"
        ),
    )
    draft = make_send(
        newsletter, NOW, status=SendStatus.SCHEDULED, subject="Not yet", slot_key="other"
    )
    client = sqlite_app.test_client()
    index = client.get(f"/archive/{newsletter.slug}")
    assert index.status_code == 200
    page = index.get_data(as_text=True)
    assert "Issue &lt;one&gt; &amp; more" in page and "Not yet" not in page
    assert f"/archive/{newsletter.slug}/{sent.id}" in page
    issue = client.get(f"/archive/{newsletter.slug}/{sent.id}")
    shown = issue.get_data(as_text=True)
    assert issue.status_code == 200 and "Stored issue body" in shown
    assert LEGACY.unsubscribe not in shown and f"/archive/{newsletter.slug}" in shown
    assert "script-src" not in issue.headers["Content-Security-Policy"]
    assert client.get(f"/archive/{newsletter.slug}/{draft.id}").status_code == 404
    assert client.get("/archive/no-such-newsletter").status_code == 404


@pytest.mark.browser
def test_demo_digest_screenshots(sqlite_app):
    """Render the demo digest in headless Chromium at 600 and 375 px; keep the PNGs."""
    from playwright.sync_api import sync_playwright

    seed_demo()
    newsletter = db.session.query(Newsletter).filter_by(slug="daily").one()
    content = compose(newsletter)
    email = render(newsletter, content)
    hostile = make_newsletter(name="Hostile")
    make_article(0.1, title="Longword" * 40, summary_text="x" * 500, image_url="https://i.org/a")
    make_article(0.2, title=RTL_TITLE, summary_text=RTL_TITLE * 5)
    make_article(0.3, title=HOSTILE_TITLE, editors_pick=True)
    hostile_email = render(hostile, compose(hostile, now=datetime.now(UTC)))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "digest.html").write_text(email.html, encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            for width in (600, 375):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.route("**/*", _serve_placeholder_image)
                page.set_content(email.html, wait_until="load")
                overflow = page.evaluate("document.documentElement.scrollWidth")
                page.screenshot(path=str(ARTIFACTS / f"digest-{width}.png"), full_page=True)
                assert overflow <= width, f"horizontal scroll at {width}px: {overflow}"
                page.close()
            page = browser.new_page(viewport={"width": 375, "height": 900})
            page.route("**/*", _serve_placeholder_image)
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.set_content(hostile_email.html, wait_until="load")
            page.screenshot(path=str(ARTIFACTS / "digest-hostile-375.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            assert dialogs == []  # no hostile script ran
            page.close()
            page = browser.new_page(viewport={"width": 375, "height": 900}, color_scheme="dark")
            page.route("**/*", _serve_placeholder_image)
            page.set_content(email.html, wait_until="load")
            page.screenshot(path=str(ARTIFACTS / "digest-375-dark.png"), full_page=True)
            page.close()
        finally:
            browser.close()
    assert (ARTIFACTS / "digest-600.png").stat().st_size > 10_000


def _serve_placeholder_image(route):
    """No network in tests: every image is a grey 16:9 SVG."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="338">'
        '<rect width="600" height="338" fill="#9aa5b1"/></svg>'
    )
    route.fulfill(status=200, content_type="image/svg+xml", body=svg)


def test_cli_preview_writes_html_and_says_when_skipped(sqlite_app, tmp_path):
    with time_machine.travel(NOW, tick=True):  # the articles are dated relative to NOW
        _check_cli_preview(sqlite_app, tmp_path)


def _check_cli_preview(sqlite_app, tmp_path):
    newsletter = make_newsletter(min_new_articles=2)
    runner = sqlite_app.test_cli_runner()
    out = tmp_path / "digest.html"
    skipped = runner.invoke(args=["digest", "preview", newsletter.slug, "--out", str(out)])
    assert skipped.exit_code == 0 and "skipped" in skipped.output and not out.exists()
    make_article(0.5, title="Fresh & new")
    make_article(0.6)
    done = runner.invoke(args=["digest", "preview", newsletter.slug, "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "2 articles" in done.output
    assert "Fresh &amp; new" in out.read_text()
    text = runner.invoke(args=["digest", "preview", newsletter.slug, "--text"])
    assert "Fresh & new" in text.output
    missing = runner.invoke(args=["digest", "preview", "no-such-slug"])
    assert missing.exit_code != 0 and "no newsletter" in missing.output
