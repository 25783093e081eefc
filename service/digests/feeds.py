"""Articles from RSS 2.0 / Atom feeds: a file or URL imported once, or a newsletter's own feed
polled by beat with ETag / Last-Modified.

An article first stored from a newsletter's own feed (`Newsletter.feed_url`) keeps that feed
as its `source_feed`: it goes to the newsletters with that feed only. Any other feed is the
site's, for every newsletter without a feed of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
from sqlalchemy import select

from service.digests.articles import ItemResult, upsert_articles
from service.extensions import db
from service.models import FeedState, Newsletter, utcnow

log = logging.getLogger(__name__)


class FeedError(RuntimeError):
    """A feed could not be fetched or parsed at all."""


@dataclass
class FeedResult:
    """What one feed import did, plus the validators for the next conditional request."""

    items: list[ItemResult] = field(default_factory=list)
    etag: str | None = None
    modified: str | None = None
    not_modified: bool = False

    def count(self, status: str) -> int:
        """How many items ended with `status`."""
        return sum(1 for item in self.items if item.status == status)

    def summary(self) -> str:
        """One line for logs and the CLI."""
        if self.not_modified:
            return "not modified"
        return (
            f"{self.count('created')} created, {self.count('updated')} updated, "
            f"{self.count('error')} skipped"
        )


def _entry_image(entry: Any) -> str | None:
    for key in ("media_content", "media_thumbnail"):
        for media in entry.get(key) or []:
            if media.get("url") and media.get("medium", "image") == "image":
                return media["url"]
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            return link.get("href")
    return None


def entry_to_article(entry: Any) -> dict[str, Any]:
    """An API-shaped article dict from one feedparser entry."""
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    summary = entry.get("summary") or ""
    if not summary and entry.get("content"):
        summary = entry["content"][0].get("value", "")
    authors = [a.get("name") for a in entry.get("authors") or [] if a.get("name")]
    if not authors and entry.get("author"):
        authors = [entry["author"]]
    tags = [tag.get("term") for tag in entry.get("tags") or [] if tag.get("term")]
    return {
        "url": entry.get("link"),
        "guid": entry.get("id"),
        "title": entry.get("title"),
        "summary": summary,
        "image_url": _entry_image(entry),
        "authors": authors,
        "section": tags[0] if tags else None,
        "tags": tags,
        "published_at": datetime(*published[:6], tzinfo=UTC) if published else None,
    }


def import_feed(source: str, *, etag: str | None = None, modified: str | None = None) -> FeedResult:
    """Read an RSS 2.0 / Atom feed (URL or file) and upsert its entries.

    `etag` / `modified` are sent as If-None-Match / If-Modified-Since; a 304 imports nothing.
    """
    if not source.startswith(("http://", "https://")) and not Path(source).is_file():
        raise FeedError(f"{source}: not an http(s) URL or a readable file")
    parsed = feedparser.parse(source, etag=etag, modified=modified, agent="newsletter-service")
    status = parsed.get("status")
    result = FeedResult(
        etag=parsed.get("etag") or etag, modified=parsed.get("modified") or modified
    )
    if status == 304:
        result.not_modified = True
        return result
    if status is not None and status >= 400:
        raise FeedError(f"{source}: HTTP {status}")
    if parsed.bozo and not parsed.entries:
        raise FeedError(f"{source}: not a feed ({parsed.get('bozo_exception')})")
    entries = [entry_to_article(entry) for entry in parsed.entries]
    result.items = upsert_articles(entries, source_feed=source if owned_feed(source) else None)
    return result


def poll_feed(url: str) -> FeedResult:
    """Import `url` with the validators of its last poll; store the new ones. Commits."""
    state = db.session.scalar(select(FeedState).where(FeedState.url == url))
    if state is None:
        state = FeedState(url=url)
        db.session.add(state)
        db.session.commit()
    try:
        result = import_feed(url, etag=state.etag, modified=state.modified)
    except FeedError as exc:
        state.checked_at = utcnow()
        state.last_result = f"error: {exc}"[:1000]
        db.session.commit()
        raise
    state.etag, state.modified, state.checked_at = result.etag, result.modified, utcnow()
    state.last_result = result.summary()
    db.session.commit()
    return result


def owned_feed(url: str) -> bool:
    """True if `url` is a newsletter's own feed (`feed_url`): its articles go to it alone."""
    return (
        db.session.scalar(select(Newsletter.id).where(Newsletter.feed_url == url).limit(1))
        is not None
    )


def poll_newsletter_feeds() -> dict[str, str]:
    """Poll every distinct `Newsletter.feed_url` of a newsletter still sending, once.

    A failing feed never stops the others; an archived newsletter's feed is not polled.
    """
    urls = db.session.scalars(
        select(Newsletter.feed_url)
        .where(Newsletter.feed_url.is_not(None), Newsletter.archived.is_(False))
        .distinct()
    ).all()
    outcome: dict[str, str] = {}
    for url in urls:
        try:
            outcome[url] = poll_feed(url).summary()
        except FeedError as exc:
            log.warning("feed poll failed", extra={"feed": url, "error": str(exc)})
            outcome[url] = f"error: {exc}"
    return outcome
