"""A newsletter's daily figures: the range asked for and the series answered."""

from __future__ import annotations

from pydantic import Field

from service import daily
from service.http.schemas.common import Model

DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class StatsQuery(Model):
    """The days wanted, both included (at most 366)."""

    from_: str | None = Field(
        None,
        alias="from",
        pattern=DATE,
        description="first day, YYYY-MM-DD (default: 29 days before `to`)",
    )
    to: str | None = Field(
        None, pattern=DATE, description="last day, YYYY-MM-DD (default: today, UTC)"
    )


class Figures(Model):
    """A day's (or the range's) counts."""

    signups: int = Field(description="subscriptions started, or started again after leaving")
    confirmations: int = Field(description="moves to confirmed")
    unsubscribes: int = Field(description="moves from pending or confirmed to unsubscribed")
    bounces: int
    complaints: int
    erasures: int = Field(description="subscriptions erased with their reader")
    net: int = Field(description="the change in confirmed readers")


class Day(Figures):
    """One UTC day; all zeros when nothing changed."""

    date: str


class NewsletterStats(Model):
    """One entry per day from `from` to `to`, oldest first, and their totals."""

    newsletter: str
    from_: str = Field(alias="from")
    to: str
    days: list[Day] = Field(max_length=daily.MAX_DAYS)
    totals: Figures
