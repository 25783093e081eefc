"""The pages that bring a newsletter's signups: the days and number of pages asked for, and the
pages answered with their signups, confirmations and confirmation rate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from service.http.schemas.common import Model
from service.sources import top


class SourcesQuery(Model):
    """The last `days` UTC days (today included) and at most `limit` pages."""

    days: int = Field(
        top.DEFAULT_DAYS, ge=1, le=top.MAX_DAYS, description="UTC days up to today, today included"
    )
    limit: int = Field(
        top.DEFAULT_LIMIT, ge=1, le=top.MAX_LIMIT, description="pages, most signups first"
    )


class PageCounts(Model):
    """Signups and confirmations, and confirmations per signup."""

    signups: int = Field(ge=0, description="pending subscriptions made by a signup form")
    confirmations: int = Field(
        ge=0, description="confirmations of readers who signed up there, made in these days"
    )
    confirmation_rate: float | None = Field(
        ge=0, description="confirmations per signup, 4 decimals; null without a signup"
    )


class SourcePage(PageCounts):
    """One page: a URL (scheme, host and path), `other` or `direct`."""

    page: str = Field(
        description="the page, no query or fragment; `other`: a page on an origin the "
        "newsletter does not allow; `direct`: no page sent"
    )
    kind: Literal["page", "other", "direct"]


class NewsletterSources(Model):
    """The top pages over the days from `from` to `to`, and the totals of every page."""

    newsletter: str
    from_: str = Field(alias="from")
    to: str
    days: int
    pages: list[SourcePage] = Field(max_length=top.MAX_LIMIT)
    totals: PageCounts
