"""Articles pushed by the site, and the digest preview and its test send."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from service.digests.article_list import SECTION_MAX
from service.digests.articles import TITLE_MAX, URL_MAX
from service.http.schemas.common import NEXT, Model, PageQuery, Time
from service.i18n import LOCALES, normalize_locale
from service.lists.browse import WHEN

BATCH_MAX = 500  # articles in one request; more is a 413


def _named_locale(value: Any) -> Any:
    """A locale named another way (`uk-UA`, `UK`, `ua`) is the supported one it names."""
    return (normalize_locale(value) or value) if isinstance(value, str) and value else value


# One of the catalogues (or empty); other spellings of one are taken as it (service.i18n).
Locale = Annotated[Literal[(*LOCALES, "")], BeforeValidator(_named_locale)]  # type: ignore[valid-type]


class Article(Model):
    """One article, created or updated by its URL."""

    model_config = {"extra": "allow"}
    error_codes = {"title": "invalid_article", "url": "invalid_article"}
    title: str = Field(min_length=1, description=f"cut to {TITLE_MAX} characters")
    url: str = Field(min_length=1, max_length=URL_MAX, description="absolute http(s) URL")
    summary: str | None = Field(None, description="HTML, cleaned; empty means none")
    image_url: str | None = None
    authors: list[str] | None = None
    tags: list[str] | None = None
    published_at: str | None = Field(None, description="ISO 8601 (absent: now)")
    section: str | None = None
    guid: str | None = None
    editors_pick: bool = False


ArticleBatchRequest = list[Any]  # each item is checked alone: a bad one is an `error` entry


class ArticleSaved(Model):
    """One article was created or updated."""

    id: int
    url: str
    status: Literal["created", "updated"]


class ArticleResult(Model):
    """What became of one item of a list."""

    status: Literal["created", "updated", "error"]
    id: int | None = None
    url: str | None = None
    field: str | None = None
    error: str | None = None
    message: str | None = None


class ArticleBatch(Model):
    """A list of articles: one result per item, and the counts."""

    results: list[ArticleResult]
    created: int
    updated: int
    errors: int


class PreviewQuery(Model):
    """Which part of the digest, in which language."""

    locale: Locale | None = Field(None, description="absent or empty: `en`")
    format: Literal["html", "text", ""] | None = Field(
        None, description="`html` (absent or empty too) or `text`, the plain-text part"
    )


class TestSendRequest(Model):
    """Where to mail a test of the digest."""

    model_config = {"json_schema_extra": {"example": {"email": "editor@gmail.com"}}}
    error_codes = {"email": "required"}
    email: str = Field(min_length=1)
    locale: Locale | None = Field(None, description="absent or empty: en")


class TestSendQueued(Model):
    """The test mail is queued."""

    status: Literal["queued"]
    job_id: int


class ArticleQuery(PageQuery):
    """Filters of the list of articles."""

    section: str | None = Field(None, min_length=1, max_length=SECTION_MAX)
    published_after: str | None = Field(
        None, pattern="^" + WHEN.pattern + "$", description="RFC 3339 time, or a date (UTC)"
    )
    published_before: str | None = Field(
        None, pattern="^" + WHEN.pattern + "$", description="RFC 3339 time, or a date (UTC)"
    )


class ListedArticle(Model):
    """An article as the list shows it (no summaries: those are the digest's)."""

    id: int
    url: str
    title: str
    section: str | None
    tags: list[str]
    authors: list[str]
    editors_pick: bool
    image_url: str | None
    source_feed: str | None
    published_at: Time
    created_at: Time


class ArticleList(Model):
    """A page of articles, newest published first."""

    articles: list[ListedArticle]
    next: str | None = Field(description=NEXT)
