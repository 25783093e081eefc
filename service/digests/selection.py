"""Which articles a newsletter's next digest takes, and which it skips and why.

A newsletter takes the articles of its own feed when it has one (`feed_url`), else the site's
articles (pushed through the API, or from a feed no newsletter owns); of those, the ones its
filters let through (`sections`, `tags`, `authors`: any-of each, no list = all).

New means published since the last sent digest started (the first digest looks back one
window). An article that arrives late (published before that send started, stored after
it) is taken by the next digest when the newsletter's `late_articles` is `include` (the
default) and counted as skipped when it is `skip`; one published more than a window before
that send is always skipped as too old (a feed's backlog read for the first time). Every
skip is counted by reason, so previews and sends can say what was left out.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter
from flask import current_app
from sqlalchemy import null, or_, select

from service.extensions import db
from service.lists.newsletters import valid_cron
from service.models import Article, Newsletter, Send, SendStatus

DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=31)
LATE_INCLUDE, LATE_SKIP = "include", "skip"
# Why an article was left out, as `Skips` counts it and people read it.
SKIP_REASONS = {
    "late": "published before the last send started but stored after it "
    "(this newsletter's late_articles is 'skip')",
    "too_old": "stored after the last send started but published more than one digest "
    "period before it",
}


@dataclass
class Selection:
    """The articles a digest may carry (newest first), where it starts, and what it skipped."""

    articles: list[Article]
    since: datetime
    skipped: Counter[str] = field(default_factory=Counter)
    late_taken: int = 0

    def skipped_text(self) -> str:
        """'2 articles skipped: 1 published before ... ; 1 ...', or '' when none were."""
        total = sum(self.skipped.values())
        if not total:
            return ""
        reasons = "; ".join(
            f"{count} {SKIP_REASONS[reason]}" for reason, count in sorted(self.skipped.items())
        )
        return f"{total} article(s) skipped: {reasons}"


def last_sent(newsletter: Newsletter) -> Send | None:
    """The newsletter's most recent send with status `sent`."""
    return db.session.scalar(
        select(Send)
        .where(
            Send.newsletter_id == newsletter.id,
            Send.status == SendStatus.SENT,
            Send.started_at.is_not(None),
        )
        .order_by(Send.started_at.desc())
        .limit(1)
    )


def carried_article_ids(newsletter: Newsletter, since: datetime) -> set[int]:
    """Ids of the articles that the newsletter's sends started at or after `since` carry.

    Cancelled sends do not count (their articles may go out again); every other started send
    does, finished or not, so an article reaches a reader at most once per newsletter.
    """
    contents = db.session.scalars(
        select(Send.content).where(
            Send.newsletter_id == newsletter.id,
            Send.status != SendStatus.CANCELLED,
            Send.started_at.is_not(None),
            Send.started_at >= since,
        )
    ).all()
    return {i for content in contents for i in (content or {}).get("article_ids") or []}


def digest_window(newsletter: Newsletter, now: datetime) -> timedelta:
    """How far back a first digest looks: config, else the cron period, else 24 hours."""
    hours = current_app.config.get("DIGEST_WINDOW_HOURS") or os.environ.get("DIGEST_WINDOW_HOURS")
    if hours:
        return timedelta(hours=float(hours))
    if newsletter.schedule_cron and valid_cron(newsletter.schedule_cron):
        runs = croniter(newsletter.schedule_cron, now)
        first = runs.get_next(datetime)
        period = runs.get_next(datetime) - first
        return min(max(period, timedelta(hours=1)), MAX_WINDOW)
    return DEFAULT_WINDOW


def _lower_set(values: Any) -> set[str]:
    if isinstance(values, str):
        values = [values]
    return {str(v).strip().casefold() for v in values or [] if str(v).strip()}


def matches_filters(article: Any, filters: dict[str, Any] | None) -> bool:
    """True if the article passes every filter given (sections, tags, authors; any-of each)."""
    return filter_of(filters)(article)


def filter_of(filters: dict[str, Any] | None) -> Callable[[Any], bool]:
    """`matches_filters` with the filters read once, for a scan of many articles."""
    filters = filters or {}
    sections = _lower_set(filters.get("sections"))
    tags = _lower_set(filters.get("tags"))
    authors = _lower_set(filters.get("authors"))
    if not (sections or tags or authors):
        return lambda article: True

    def matches(article: Any) -> bool:
        if sections and (article.section or "").casefold() not in sections:
            return False
        if tags and not tags & _lower_set(article.tags):
            return False
        return not (authors and not authors & _lower_set(article.authors))

    return matches


def _deciding(filters: dict[str, Any] | None) -> list[Any]:
    """The columns `select_articles` decides by: identity, duplicates, dates and the filters'
    own (a JSON list is read only when a filter looks into it: decoding is most of a scan)."""
    filters = filters or {}
    columns: list[Any] = [Article.id, Article.guid, Article.title, Article.section]
    for name in ("tags", "authors"):
        wanted = _lower_set(filters.get(name))
        columns.append(getattr(Article, name) if wanted else null().label(name))
    return [*columns, Article.published_at]


def _dedup_key(article: Any) -> str:
    return " ".join(article.title.casefold().split())


def select_articles(newsletter: Newsletter, now: datetime) -> Selection:
    """The new articles `newsletter` takes at `now`, newest first, deduplicated, with skips."""
    window = digest_window(newsletter, now)
    previous = last_sent(newsletter)
    has_previous = previous is not None and previous.started_at is not None
    since = previous.started_at if has_previous else now - window
    already = carried_article_ids(newsletter, since)
    source = (
        Article.source_feed == newsletter.feed_url
        if newsletter.feed_url
        else Article.source_feed.is_(None)
    )
    new = Article.published_at > since
    if has_previous:  # a late arrival: stored after the last send started
        new = or_(new, Article.created_at > since)
    # The scan reads only what deciding needs (a feed's backlog read for the first time can be
    # many thousands of rows, nearly all skipped); whole articles are loaded for those taken.
    rows = db.session.execute(
        select(*_deciding(newsletter.filters))
        .where(source, new, Article.published_at <= now)
        .order_by(Article.published_at.desc(), Article.id.desc())
    ).all()
    selection = Selection(articles=[], since=since)
    seen_keys: set[str] = set()
    taken: list[int] = []
    matches = filter_of(newsletter.filters)
    for article in rows:
        key = _dedup_key(article)
        guid = article.guid and f"guid:{article.guid}"
        if article.id in already or key in seen_keys or (guid and guid in seen_keys):
            continue
        if not matches(article):
            continue
        if article.published_at <= since:
            if article.published_at <= since - window:
                selection.skipped["too_old"] += 1
                continue
            if newsletter.late_articles == LATE_SKIP:
                selection.skipped["late"] += 1
                continue
            selection.late_taken += 1
        seen_keys.add(key)
        if guid:
            seen_keys.add(guid)
        taken.append(article.id)
    selection.articles = _whole(taken)
    return selection


def _whole(ids: list[int]) -> list[Article]:
    """The articles `ids`, whole, in that order."""
    by_id: dict[int, Article] = {}
    for start in range(0, len(ids), 1000):  # bounded IN lists
        chunk = ids[start : start + 1000]
        by_id.update(
            (a.id, a) for a in db.session.scalars(select(Article).where(Article.id.in_(chunk)))
        )
    return [by_id[i] for i in ids]
