"""Articles in: upsert by canonical URL (from the admin API or RSS / Atom feeds).

A story is identified by its canonical URL: scheme and host lower-cased, default port,
fragment and tracking parameters (`utm_*`, `fbclid`, ...) dropped. Summaries are sanitized
with nh3 and kept twice: as safe HTML and as plain text. A batch never fails as a whole: each
item is written in its own savepoint and a bad one is reported and skipped.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser
import nh3
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.extensions import db
from service.models import Article, FeedState, Newsletter, utcnow

log = logging.getLogger(__name__)

TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "yclid",
    "_ga",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "ref",
    "ref_src",
    "cmpid",
}
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
SUMMARY_TAGS = {"p", "br", "a", "em", "strong", "b", "i", "ul", "ol", "li", "blockquote"}
TITLE_MAX = 500
URL_MAX = 2000
SUMMARY_MAX = 20_000
BLOCK_TAGS = {"p", "br", "li", "ul", "ol", "blockquote", "div", "h1", "h2", "h3", "h4", "tr"}


class ArticleError(ValueError):
    """One article cannot be stored; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class FeedError(RuntimeError):
    """A feed could not be fetched or parsed at all."""


@dataclass
class ItemResult:
    """The outcome of one item of a batch: `created`, `updated` or `error`."""

    index: int
    status: str
    id: int | None = None
    url: str | None = None
    field: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form, without empty keys."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


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


def canonical_url(url: str) -> str:
    """The canonical form of an article URL; raises ArticleError if it is not http(s)."""
    if not isinstance(url, str) or not url.strip():
        raise ArticleError("url", "url is required")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not parts.hostname:
        raise ArticleError("url", "url must be an absolute http(s) URL")
    host = parts.hostname.lower()
    default_port = {"http": 80, "https": 443}[scheme]
    try:
        port = parts.port
    except ValueError as exc:
        raise ArticleError("url", "url has an invalid port") from exc
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMS and not key.lower().startswith(TRACKING_PREFIXES)
    ]
    result = urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))
    if len(result) > URL_MAX:
        raise ArticleError("url", f"url is longer than {URL_MAX} characters")
    return result


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in BLOCK_TAGS:
            self.parts.append("\n\n" if tag != "br" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: entities decoded, paragraphs kept, spaces collapsed."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    paragraphs = re.split(r"\n\s*\n", "".join(parser.parts))
    lines = [" ".join(p.split()) for p in paragraphs]
    return "\n\n".join(line for line in lines if line)


def sanitize_summary(summary: str) -> tuple[str, str]:
    """(safe HTML, plain text) of a summary that may hold any HTML."""
    clean = nh3.clean(
        summary[:SUMMARY_MAX],
        tags=SUMMARY_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return clean.strip(), html_to_text(clean)


def clean_text(value: Any, field_name: str, limit: int) -> str:
    """A one-line plain string: control characters out, whitespace collapsed, cut at `limit`."""
    if not isinstance(value, str):
        raise ArticleError(field_name, f"{field_name} must be a string")
    text = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return text[:limit]


def _string_list(value: Any, field_name: str) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ArticleError(field_name, f"{field_name} must be a list of strings")
    seen: list[str] = []
    for item in items:
        text = clean_text(item, field_name, 200)
        if text and text not in seen:
            seen.append(text)
    return seen


def parse_datetime(value: Any) -> datetime:
    """An aware datetime from ISO 8601 (a naive value is taken as UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ArticleError("published_at", "published_at must be ISO 8601") from exc
    else:
        raise ArticleError("published_at", "published_at must be ISO 8601")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def article_fields(data: Any) -> dict[str, Any]:
    """Validate one incoming article (API or feed shape) into model fields."""
    if not isinstance(data, dict):
        raise ArticleError("body", "each article must be a JSON object")
    url = canonical_url(data.get("url"))
    title = clean_text(data.get("title") or "", "title", TITLE_MAX)
    if not title:
        raise ArticleError("title", "title is required")
    summary = data.get("summary") or ""
    if not isinstance(summary, str):
        raise ArticleError("summary", "summary must be a string")
    summary_html, summary_text = sanitize_summary(summary)
    image_url = data.get("image_url") or None
    if image_url is not None:
        try:
            image_url = canonical_url(image_url) if image_url else None
        except ArticleError as exc:
            raise ArticleError("image_url", "image_url must be an absolute http(s) URL") from exc
    section = data.get("section")
    pick = data.get("editors_pick", False)
    if not isinstance(pick, bool):
        raise ArticleError("editors_pick", "editors_pick must be true or false")
    guid = data.get("guid")
    published = data.get("published_at")
    return {
        "url": url,
        "guid": clean_text(guid, "guid", URL_MAX) if guid else None,
        "title": title,
        "summary_html": summary_html,
        "summary_text": summary_text,
        "image_url": image_url,
        "authors": _string_list(data.get("authors"), "authors"),
        "section": (clean_text(section, "section", 100) or None) if section else None,
        "tags": _string_list(data.get("tags"), "tags"),
        "editors_pick": pick,
        "published_at": parse_datetime(published) if published else utcnow(),
    }


# Model fields -> the incoming key that sets them: an update changes only what the data names.
_SOURCE_KEY = {"summary_html": "summary", "summary_text": "summary"}


def _named(fields: dict[str, Any], data: Any) -> dict[str, Any]:
    """The fields `data` names (plus the URL and title that identify and head an article)."""
    return {
        key: value
        for key, value in fields.items()
        if key in ("url", "title") or _SOURCE_KEY.get(key, key) in data
    }


def _write(fields: dict[str, Any], data: Any = None) -> tuple[Article, bool]:
    article = db.session.scalar(select(Article).where(Article.url == fields["url"]))
    created = article is None
    if article is None:
        article = Article(url=fields["url"])
        db.session.add(article)
    elif isinstance(data, dict):
        fields = _named(fields, data)  # a partial update keeps what it does not name
    for key, value in fields.items():
        setattr(article, key, value)
    article.updated_at = utcnow()
    db.session.flush()
    return article, created


def upsert_article(data: Any) -> tuple[Article, bool]:
    """Create or update one article by canonical URL; returns (article, created). Commits.

    An update changes only the fields the data names: authors, section, tags, the summary
    and the rest keep their values when a CMS sends just the URL and a new title.
    """
    fields = article_fields(data)
    try:
        result = _write(fields, data)
    except IntegrityError:
        db.session.rollback()  # a concurrent insert of the same URL won: update it instead
        result = _write(fields, data)
    db.session.commit()
    return result


def upsert_articles(items: list[Any]) -> list[ItemResult]:
    """Upsert every item in its own savepoint; bad items are reported and skipped. Commits."""
    results: list[ItemResult] = []
    for index, data in enumerate(items):
        try:
            fields = article_fields(data)
            with db.session.begin_nested():
                article, created = _write(fields, data)
            results.append(
                ItemResult(index, "created" if created else "updated", article.id, article.url)
            )
        except ArticleError as exc:
            results.append(ItemResult(index, "error", field=exc.field, error=exc.message))
        except IntegrityError:
            results.append(ItemResult(index, "error", field="url", error="conflicting write"))
    db.session.commit()
    return results


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
    result.items = upsert_articles([entry_to_article(entry) for entry in parsed.entries])
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


def poll_newsletter_feeds() -> dict[str, str]:
    """Poll every distinct `Newsletter.feed_url` once; a failing feed never stops the others."""
    urls = db.session.scalars(
        select(Newsletter.feed_url).where(Newsletter.feed_url.is_not(None)).distinct()
    ).all()
    outcome: dict[str, str] = {}
    for url in urls:
        try:
            outcome[url] = poll_feed(url).summary()
        except FeedError as exc:
            log.warning("feed poll failed", extra={"feed": url, "error": str(exc)})
            outcome[url] = f"error: {exc}"
    return outcome
