"""Delivered, bounced, complained and unsubscribed, and their rates: per send and per
newsletter, from the ledger and the feedback events.

Each reader counts once per send whatever came back about them: a possible duplicate
(the send may have reached them twice, see `sending.ledger`) that bounced twice is one
bounce. A reader with several bounces of one send counts in the worst class (hard, then
policy, then soft).

- delivered: messages the relay accepted (`sent`) less those that bounced afterwards;
- bounced_hard / bounced_soft / refused_policy: readers by class (5.7.x refusals are about
  the sender: `refused_policy`, not a bounce of the reader);
- complained: readers who reported the message;
- unsubscribed: readers of the send who left its newsletter after it started and before
  the newsletter's next send started (any cause, complaints included);
- rates: each over the messages handed over (`sent` + `failed`), complaints over `sent`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, distinct, func, select

from service.deliverability import classify
from service.extensions import db
from service.models import (
    Delivery,
    DeliveryStatus,
    FeedbackRecord,
    Send,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
    utcnow,
)

FIGURES = ("delivered", "bounced_hard", "bounced_soft", "refused_policy", "complained")
_RANK = {classify.HARD: 1, classify.POLICY: 2, classify.SOFT: 3}
_BY_RANK = {rank: name for name, rank in _RANK.items()}
_NAMES = {classify.HARD: "bounced_hard", classify.SOFT: "bounced_soft"}
_NAMES[classify.POLICY] = "refused_policy"


def feedback_counts(send_ids: Any) -> dict[str, int]:
    """Readers by worst bounce class, complainers, and readers who bounced after being
    accepted (to take off `sent`), over the sends `send_ids` (a list or a subquery)."""
    table = FeedbackRecord
    rank = case(*((table.bounce_class == name, value) for name, value in _RANK.items()), else_=None)
    after = case((and_(table.source != "smtp", rank.is_not(None)), 1), else_=0)
    per_reader = (
        select(
            table.send_id,
            table.subscriber_id,
            func.min(rank).label("rank"),
            func.max(case((table.bounce_class == classify.COMPLAINT, 1), else_=0)).label("c"),
            func.max(after).label("after"),
        )
        .where(table.send_id.in_(send_ids), table.subscriber_id.is_not(None))
        .group_by(table.send_id, table.subscriber_id)
        .subquery()
    )
    counts = {name: 0 for name in (*_NAMES.values(), "complained", "bounced_after")}
    rows = db.session.execute(
        select(
            per_reader.c.rank,
            func.count(),
            func.sum(per_reader.c.c),
            func.sum(per_reader.c.after),
        ).group_by(per_reader.c.rank)
    ).all()
    for rank_value, readers, complained, after_count in rows:
        counts["complained"] += int(complained or 0)
        counts["bounced_after"] += int(after_count or 0)
        if rank_value is not None:
            counts[_NAMES[_BY_RANK[int(rank_value)]]] += int(readers)
    return counts


def unsubscribed(send: Send) -> int:
    """Readers of `send` who left its newsletter after it started, before the next one."""
    if send.started_at is None:
        return 0
    following = db.session.scalar(
        select(func.min(Send.started_at)).where(
            Send.newsletter_id == send.newsletter_id, Send.started_at > send.started_at
        )
    )
    until = following or utcnow()
    return int(
        db.session.scalar(
            select(func.count(distinct(Subscription.subscriber_id)))
            .join(SubscriptionEvent, SubscriptionEvent.subscription_id == Subscription.id)
            .join(
                Delivery,
                and_(
                    Delivery.send_id == send.id,
                    Delivery.subscriber_id == Subscription.subscriber_id,
                    Delivery.status == DeliveryStatus.SENT,
                ),
            )
            .where(
                Subscription.newsletter_id == send.newsletter_id,
                SubscriptionEvent.to_status == SubscriptionStatus.UNSUBSCRIBED,
                SubscriptionEvent.created_at >= send.started_at,
                SubscriptionEvent.created_at < until,
            )
        )
        or 0
    )


def figures(sent: int, failed: int, counts: dict[str, int], left: int) -> dict[str, Any]:
    """The report's numbers and rates from the ledger's `sent`/`failed` and `counts`."""
    handed = sent + failed
    result: dict[str, Any] = {
        "delivered": max(0, sent - counts["bounced_after"]),
        "bounced_hard": counts["bounced_hard"],
        "bounced_soft": counts["bounced_soft"],
        "refused_policy": counts["refused_policy"],
        "complained": counts["complained"],
        "unsubscribed": left,
    }

    def rate(part: int, whole: int) -> float:
        return round(part / whole, 6) if whole else 0.0

    result["rates"] = {
        "delivered": rate(result["delivered"], handed),
        "bounced_hard": rate(result["bounced_hard"], handed),
        "bounced_soft": rate(result["bounced_soft"], handed),
        "refused_policy": rate(result["refused_policy"], handed),
        "complained": rate(result["complained"], sent),
        "unsubscribed": rate(left, sent),
    }
    return result


def send_report(send: Send) -> dict[str, Any]:
    """One send's figures (`figures`)."""
    return figures(send.sent, send.failed, feedback_counts([send.id]), unsubscribed(send))


def parse_day(value: str | None) -> datetime | None:
    """A report bound: an ISO 8601 date or time (no zone: UTC), None if absent; ValueError."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.strip()[:40])
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def newsletter_report(newsletter_id: int, since: Any = None, until: Any = None) -> dict[str, Any]:
    """A newsletter's figures over its sends that started in [since, until) (all if None)."""
    query = select(Send).where(Send.newsletter_id == newsletter_id, Send.started_at.is_not(None))
    if since is not None:
        query = query.where(Send.started_at >= since)
    if until is not None:
        query = query.where(Send.started_at < until)
    sends = list(db.session.scalars(query.order_by(Send.id)))
    ids = [send.id for send in sends]
    counts = feedback_counts(ids) if ids else feedback_counts([-1])
    left = sum(unsubscribed(send) for send in sends)
    sent = sum(send.sent for send in sends)
    failed = sum(send.failed for send in sends)
    return {"sends": len(sends), "sent": sent, "failed": failed} | figures(
        sent, failed, counts, left
    )


FAILURES_SHOWN = 20


def failure_answers(send_id: int, limit: int = FAILURES_SHOWN) -> list[dict[str, Any]]:
    """The relay's answers to a send's failed deliveries, the most frequent first, with how
    many readers got each (what an operator reads to see why mail did not go)."""
    rows = db.session.execute(
        select(Delivery.response, func.count())
        .where(Delivery.send_id == send_id, Delivery.status == DeliveryStatus.FAILED)
        .group_by(Delivery.response)
        .order_by(func.count().desc(), Delivery.response)
        .limit(limit)
    )
    return [{"answer": response or "(no answer)", "readers": count} for response, count in rows]
