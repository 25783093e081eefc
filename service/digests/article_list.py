"""Articles as staff browse them: newest published first, narrowed to a section and a range of
publication times, in keyset pages (the cursor is the last row's publication time and id, so
articles stored or deleted between pages neither skip nor repeat the others). Rows are read as
plain columns, not ORM objects, so a 500-row page costs little more than its JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select

from service.extensions import db
from service.lists.browse import FilterInvalid, parse_when
from service.models import Article

FILTERS = ("section", "published_after", "published_before")
SECTION_MAX = 100  # the column's width
_COLUMNS = (Article.id, Article.url, Article.title, Article.section, Article.tags,
            Article.authors, Article.editors_pick, Article.image_url, Article.source_feed,
            Article.published_at, Article.created_at)  # fmt: skip


@dataclass(frozen=True)
class ArticleFilter:
    """What a page of articles is narrowed to (None: not narrowed)."""

    section: str | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None


def article_filter(args: Mapping[str, str]) -> ArticleFilter:
    """The filters of `GET /api/v1/articles` from its query, checked; FilterInvalid else."""
    section = args.get("section")
    if section is not None and (not section or len(section) > SECTION_MAX):
        raise FilterInvalid("section", f"section is 1 to {SECTION_MAX} characters.")
    times = {
        field: parse_when(field, args[field])
        for field in ("published_after", "published_before")
        if args.get(field) is not None
    }
    return ArticleFilter(section=section, **times)


def cursor_key(row: Any) -> tuple[str, int]:
    """The cursor after a row: its publication time (UTC, to the microsecond) and id."""
    return row.published_at.astimezone(UTC).isoformat(timespec="microseconds"), row.id


def before_key(value: tuple[str, int]) -> tuple[datetime, int]:
    """A cursor's (publication time, id), checked; FilterInvalid("cursor") else."""
    try:
        when = datetime.fromisoformat(value[0])
    except ValueError:
        raise FilterInvalid("cursor", "cursor is not one this list gave.") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)), value[1]


def browse_articles(
    wanted: ArticleFilter, before: tuple[datetime, int] | None, limit: int
) -> list[Any]:
    """Up to `limit` articles matching `wanted`, newest published first (then by id), after
    the row `before` names; rows with the columns of `_COLUMNS`."""
    query = select(*_COLUMNS)
    if before is not None:
        when, last_id = before
        # the first term alone is the index's range; the second keeps ties apart
        query = query.where(
            Article.published_at <= when,
            or_(Article.published_at < when, and_(Article.published_at == when,
                                                 Article.id < last_id)),
        )  # fmt: skip
    if wanted.section is not None:
        query = query.where(Article.section == wanted.section)
    if wanted.published_after is not None:
        query = query.where(Article.published_at > wanted.published_after)
    if wanted.published_before is not None:
        query = query.where(Article.published_at < wanted.published_before)
    query = query.order_by(Article.published_at.desc(), Article.id.desc()).limit(limit)
    return list(db.session.execute(query))


def article_json(row: Any) -> dict[str, Any]:
    """An article as the list shows it (no summaries: those are the digest's)."""
    return {
        "id": row.id,
        "url": row.url,
        "title": row.title,
        "section": row.section,
        "tags": row.tags,
        "authors": row.authors,
        "editors_pick": row.editors_pick,
        "image_url": row.image_url,
        "source_feed": row.source_feed,
        "published_at": row.published_at.isoformat(),
        "created_at": row.created_at.isoformat(),
    }
