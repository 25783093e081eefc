"""Newsletters: the fields the API takes and shows; limits are the domain's own."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from service.http.schemas.common import Model, Time
from service.lists.newsletters import MAX_ORIGINS, MAX_RATE, MAX_TERMS

TERM_MAX = 100
NAME_MAX = 200
DESCRIPTION_MAX = 10000


class Translation(Model):
    """The name and description in one other language."""

    model_config = {"extra": "forbid"}
    name: str | None = Field(None, max_length=NAME_MAX)
    description: str | None = Field(None, max_length=DESCRIPTION_MAX)


Terms = list[Annotated[str, Field(max_length=TERM_MAX)]]


class NewsletterFields(Model):
    """Any field of a newsletter, as PATCH takes them (leave out what stays); a field it does
    not know is passed on, for the newsletter's own checks to name."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    description: str | None = None
    schedule: str | None = Field(None, description="cron expression")
    timezone: str | None = Field(None, description="IANA time zone, e.g. Europe/Kyiv")
    from_: str | None = Field(None, alias="from", description="the From address")
    min_new_articles: int | None = Field(None, ge=0)
    allowed_origins: list[str] | None = Field(
        None,
        max_length=MAX_ORIGINS,
        description="origins (https://host[:port]) whose pages may sign readers up to this "
        "newsletter, besides ALLOWED_ORIGINS",
    )
    rate_limit_per_second: float | None = Field(
        None,
        gt=0,
        le=MAX_RATE,
        description="messages per second for this newsletter's sends; wins over "
        "SEND_RATE_LIMIT (null: use it)",
    )
    translations: dict[str, Translation] | None = Field(
        None,
        description="the name and description in other languages, by locale (today: uk); a "
        "PATCH replaces all translations",
    )
    sections: Terms | None = Field(
        None, max_length=MAX_TERMS, description="the article sections it takes (empty: all)"
    )
    tags: Terms | None = Field(
        None, max_length=MAX_TERMS, description="the article tags it takes (empty: all)"
    )
    feed_url: str | None = Field(None, description="its own RSS/Atom feed (null: the site's)")
    is_public: bool | None = Field(None, description="listed on public pages")
    archived: bool | None = Field(None, description="no sends, no new signups; readers kept")
    late_articles: Literal["include", "skip"] | None = None

    def given(self) -> dict[str, Any]:
        """The fields the request carried, under the names the API uses."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class NewsletterCreate(NewsletterFields):
    """A new newsletter: `slug` and `name` required."""

    slug: str
    name: str  # type: ignore[assignment]


class Newsletter(Model):
    """A newsletter as the API shows it (the same names it takes)."""

    slug: str
    name: str
    description: str | None
    schedule: str | None
    timezone: str
    from_: str | None = Field(alias="from")
    min_new_articles: int
    allowed_origins: list[str]
    rate_limit_per_second: float | None
    translations: dict[str, Translation]
    sections: list[str]
    tags: list[str]
    feed_url: str | None
    is_public: bool
    archived: bool
    late_articles: str
    created_at: Time | None
    updated_at: Time | None

    @classmethod
    def of(cls, newsletter: Any) -> Newsletter:
        """The answer for a stored newsletter."""
        filters = newsletter.filters or {}
        return cls.model_validate(
            {
                "slug": newsletter.slug,
                "name": newsletter.name,
                "description": newsletter.description,
                "schedule": newsletter.schedule_cron,
                "timezone": newsletter.timezone,
                "from": newsletter.from_address,
                "min_new_articles": newsletter.min_new_articles,
                "allowed_origins": list(newsletter.allowed_origins or []),
                "rate_limit_per_second": newsletter.rate_limit_per_second,
                "translations": newsletter.translations or {},
                "sections": list(filters.get("sections") or []),
                "tags": list(filters.get("tags") or []),
                "feed_url": newsletter.feed_url,
                "is_public": newsletter.is_public,
                "archived": newsletter.archived,
                "late_articles": newsletter.late_articles,
                "created_at": newsletter.created_at,
                "updated_at": newsletter.updated_at,
            }
        )


class NewsletterList(Model):
    """Every newsletter."""

    newsletters: list[Newsletter]
