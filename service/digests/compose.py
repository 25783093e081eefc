"""Digests out: pick a newsletter's new articles, group them, and render the email.

`compose` takes the newsletter's new articles (`service.digests.selection`: its own feed or
the site's, its filters, late arrivals, no article a started send already carries) and groups
them into a top story, the News Feed and Editors' Picks. It returns plain data, so
the result can be stored in `Send.content` and rendered later by any process.

`test_content` is what a test copy shows: the next digest, or else the last issue again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from service import outbox
from service.addresses import parse_address
from service.digests.selection import Selection, select_articles
from service.extensions import db
from service.i18n import checked_locale
from service.mail import RenderedEmail, build_message, deliver, newsletter_sender, render_email
from service.mail.headers import header
from service.models import Article, Newsletter, Send, SendStatus, utcnow
from service.task_names import TaskName

NEWS_FEED_LIMIT = 25
EDITORS_PICKS_LIMIT = 5
SUBJECT_MAX = 120
TOP_SUMMARY_MAX = 400
SUMMARY_MAX = 220


@dataclass
class ArticleView:
    """An article as the digest shows it: plain data, safe to keep after the session closes."""

    id: int
    url: str
    title: str
    summary_text: str
    image_url: str | None
    authors: list[str]
    section: str | None
    tags: list[str]
    editors_pick: bool
    published_at: datetime

    @classmethod
    def from_article(cls, article: Article) -> ArticleView:
        """Copy the fields a digest needs out of an ORM row."""
        return cls(
            id=article.id,
            url=article.url,
            title=article.title,
            summary_text=article.summary_text or "",
            image_url=article.image_url,
            authors=list(article.authors or []),
            section=article.section,
            tags=list(article.tags or []),
            editors_pick=bool(article.editors_pick),
            published_at=article.published_at,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArticleView:
        """Inverse of `as_dict`."""
        return cls(**{**data, "published_at": datetime.fromisoformat(data["published_at"])})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "published_at": self.published_at.isoformat()}


@dataclass
class DigestContent:
    """What one digest carries, grouped; `article_ids` lists every article shown."""

    newsletter_id: int
    top_story: ArticleView | None
    news_feed: list[ArticleView]
    editors_picks: list[ArticleView]
    article_ids: list[int]
    subject: str
    since: datetime | None = field(default=None)
    # Articles left out, by reason (`service.digests.selection.SKIP_REASONS`).
    skipped: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for `Send.content`."""
        return {
            "newsletter_id": self.newsletter_id,
            "top_story": self.top_story.as_dict() if self.top_story else None,
            "news_feed": [a.as_dict() for a in self.news_feed],
            "editors_picks": [a.as_dict() for a in self.editors_picks],
            "article_ids": list(self.article_ids),
            "subject": self.subject,
            "since": self.since.isoformat() if self.since else None,
            "skipped": dict(self.skipped),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DigestContent:
        """Inverse of `as_dict`."""
        top = data.get("top_story")
        since = data.get("since")
        return cls(
            newsletter_id=data["newsletter_id"],
            top_story=ArticleView.from_dict(top) if top else None,
            news_feed=[ArticleView.from_dict(a) for a in data.get("news_feed", [])],
            editors_picks=[ArticleView.from_dict(a) for a in data.get("editors_picks", [])],
            article_ids=list(data.get("article_ids", [])),
            subject=data.get("subject", ""),
            since=datetime.fromisoformat(since) if since else None,
            skipped=dict(data.get("skipped") or {}),
        )


def last_issue(newsletter: Newsletter) -> tuple[Send, DigestContent] | None:
    """The newsletter's latest started, not cancelled send that carries a digest, with it."""
    send = db.session.scalar(
        select(Send)
        .where(
            Send.newsletter_id == newsletter.id,
            Send.status != SendStatus.CANCELLED,
            Send.started_at.is_not(None),
        )
        .order_by(Send.started_at.desc(), Send.id.desc())
        .limit(1)
    )
    if send is None or not (send.content or {}).get("article_ids"):
        return None
    return send, DigestContent.from_dict(send.content)


def _subject(newsletter: Newsletter, top: ArticleView) -> str:
    subject = f"{newsletter.name}: {top.title}"
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1].rsplit(" ", 1)[0] + "…"
    return subject


def compose(newsletter: Newsletter, *, now: datetime | None = None) -> DigestContent | None:
    """The digest `newsletter` would send now, or None if too few new articles."""
    return compose_report(newsletter, now=now)[0]


def compose_report(
    newsletter: Newsletter, *, now: datetime | None = None
) -> tuple[DigestContent | None, Selection]:
    """The digest (or None: too few new articles) and the selection behind it, with its skips."""
    now = now or utcnow()
    selection = select_articles(newsletter, now)
    since = selection.since
    picked = [ArticleView.from_article(article) for article in selection.articles]
    if not picked or len(picked) < (newsletter.min_new_articles or 0):
        return None, selection
    top = next((a for a in picked if a.image_url), picked[0])
    rest = [a for a in picked if a is not top]
    picks = [a for a in rest if a.editors_pick][:EDITORS_PICKS_LIMIT]
    feed = [a for a in rest if a not in picks][:NEWS_FEED_LIMIT]
    shown = [top, *feed, *picks]
    content = DigestContent(
        newsletter_id=newsletter.id,
        top_story=top,
        news_feed=feed,
        editors_picks=picks,
        article_ids=[a.id for a in shown],
        subject=_subject(newsletter, top),
        since=since.astimezone(UTC),
        skipped=dict(selection.skipped),
    )
    return content, selection


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def render_digest(
    content: DigestContent,
    *,
    newsletter: Newsletter,
    locale: str,
    unsubscribe_url: str,
    preferences_url: str,
    view_url: str,
) -> RenderedEmail:
    """Render the digest email; the URLs are inserted verbatim (placeholders survive)."""
    config = current_app.config
    top = content.top_story
    preheader = _shorten(top.summary_text or top.title, 140) if top else newsletter.name_in(locale)
    return render_email(
        "digest",
        {
            "locale": locale,
            "newsletter_name": newsletter.name_in(locale),
            "subject": content.subject,
            "preheader": preheader,
            "top_story": top,
            "news_feed": content.news_feed,
            "editors_picks": content.editors_picks,
            "unsubscribe_url": unsubscribe_url,
            "preferences_url": preferences_url,
            "view_url": view_url,
            "archive_url": f"{config['PUBLIC_URL']}/archive/{newsletter.slug}",
            "publisher_name": config["PUBLISHER_NAME"],
            "publisher_address": config["PUBLISHER_ADDRESS"],
            "shorten": _shorten,
            "top_summary_max": TOP_SUMMARY_MAX,
            "summary_max": SUMMARY_MAX,
        },
    )


class NothingToSend(LookupError):
    """No test copy can be made: too few new articles and no issue sent yet."""


@dataclass
class TestContent:
    """What a test copy shows: the next digest, or (`send_id` set) the last issue again."""

    content: DigestContent
    send_id: int | None = None

    @property
    def label(self) -> str:
        """Which digest it is, for the person who asked."""
        if self.send_id is None:
            return "the next digest"
        return f"the last issue, send {self.send_id}: nothing new since"


def test_content(newsletter: Newsletter) -> TestContent | None:
    """The next digest of `newsletter`, else its last issue; None if it has neither."""
    content = compose(newsletter)
    if content is not None:
        return TestContent(content)
    last = last_issue(newsletter)
    return TestContent(last[1], send_id=last[0].id) if last else None


def render_sample(
    content: DigestContent, newsletter: Newsletter, locale: str, marker: str = "PREVIEW"
) -> RenderedEmail:
    """The digest as staff see it (preview, test send): personal links carry `marker`.

    Raises `UnknownLocale` (naming the catalogues there are) for a locale with no catalogue.
    """
    base = current_app.config["PUBLIC_URL"]
    return render_digest(
        content,
        newsletter=newsletter,
        locale=checked_locale(locale),
        unsubscribe_url=f"{base}/unsubscribe/{marker}",
        preferences_url=f"{base}/preferences/{marker}",
        view_url=f"{base}/archive/{newsletter.slug}",
    )


def send_test_digest(newsletter_id: int, email: str, *, locale: str = "en") -> str:
    """Compose and mail the digest of `newsletter_id` to one address now, marked as a test.

    The links to unsubscribe and preferences are inert placeholders (`TEST`), since the
    address need not be a subscriber. With no new articles it is a copy of the last issue.
    Raises InvalidEmail for an address the service would not mail (checked first),
    UnknownLocale for a locale with no catalogue, and NothingToSend when there is neither a
    next digest nor a last issue.
    """
    address = parse_address(email, allow_smtputf8=True)
    locale = checked_locale(locale)
    newsletter = db.session.get(Newsletter, newsletter_id)
    if newsletter is None:
        raise LookupError(f"no newsletter {newsletter_id}")
    test = test_content(newsletter)
    if test is None:
        raise NothingToSend(newsletter.slug)
    rendered = render_sample(test.content, newsletter, locale, marker="TEST")
    rendered = RenderedEmail(f"[TEST] {rendered.subject}", rendered.text, rendered.html)
    sender = newsletter_sender(newsletter)  # From and List-Id exactly as on a real send
    message = build_message(
        rendered,
        to=header("To", None, address.ascii),
        sender=sender,
        headers={"X-Digest-Test": "1"},
    )
    return deliver(message, envelope_sender=sender.address, smtputf8=address.smtputf8)


def request_test_digest(newsletter: Newsletter, email: str, *, locale: str = "en") -> int:
    """Queue a test send of the digest to `email` (outbox job, handed to the worker); job id.

    The address (`InvalidEmail`) and the locale (`UnknownLocale`) are checked before anything
    is queued, so the worker is never handed a test it must fail.
    """
    parse_address(email, allow_smtputf8=True)
    payload = {"newsletter_id": newsletter.id, "email": email, "locale": checked_locale(locale)}
    job = outbox.enqueue(TaskName.SEND_TEST_DIGEST, payload)
    db.session.commit()
    return job.id
