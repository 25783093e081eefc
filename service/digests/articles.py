"""Articles in: upsert by canonical URL (from the admin API or RSS / Atom feeds).

A story is identified by its canonical URL: scheme and host lower-cased, default port,
fragment and tracking parameters (`utm_*`, `fbclid`, ...) dropped. Summaries are sanitized
with nh3 and kept twice: as safe HTML and as plain text. A batch never fails as a whole: each
item is written in its own savepoint and a bad one is reported and skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import nh3
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.extensions import db
from service.models import Article, utcnow

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


def _write(
    fields: dict[str, Any], data: Any = None, source_feed: str | None = None
) -> tuple[Article, bool]:
    article = db.session.scalar(select(Article).where(Article.url == fields["url"]))
    created = article is None
    if article is None:  # its source is where it was first stored, and stays
        article = Article(url=fields["url"], source_feed=source_feed)
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


def upsert_articles(items: list[Any], source_feed: str | None = None) -> list[ItemResult]:
    """Upsert every item in its own savepoint; bad items are reported and skipped. Commits.

    `source_feed`: the newsletter feed the items come from (new articles go to it only).
    """
    results: list[ItemResult] = []
    for index, data in enumerate(items):
        try:
            fields = article_fields(data)
            with db.session.begin_nested():
                article, created = _write(fields, data, source_feed)
            results.append(
                ItemResult(index, "created" if created else "updated", article.id, article.url)
            )
        except ArticleError as exc:
            results.append(ItemResult(index, "error", field=exc.field, error=exc.message))
        except IntegrityError:
            results.append(ItemResult(index, "error", field="url", error="conflicting write"))
    db.session.commit()
    return results
