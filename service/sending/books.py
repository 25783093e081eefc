"""A send's books read and closed from its ledger: recount, readers never reached, deferrals.

`recount` sets the send's counters from the ledger (a last check when a send ends or
stops); `close_unreached` gives every reader of a range who got nothing a `failed` or
`skipped` row (a batch that ends for good, a cancelled send), counters in the same commit;
`defer_reason` says why deferred readers wait.
"""

from __future__ import annotations

from sqlalchemy import DateTime, and_, exists, func, literal, select, update

from service.extensions import db, insert_ignoring_conflicts
from service.models import (
    Delivery,
    DeliveryStatus,
    Send,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from service.sending.ledger import COUNTERS


def counted(status: DeliveryStatus | str):
    """How many of the send's ledger rows have `status` (a correlated subquery)."""
    return (
        select(func.count())
        .where(Delivery.send_id == Send.id, Delivery.status == status)
        .scalar_subquery()
    )


def recount(send_id: int) -> None:
    """Set the send's counters from its ledger, exactly, even while batches still write.

    The send row is locked first (PostgreSQL: FOR UPDATE; SQLite serializes writers), so
    a ledger commit is either wholly counted here or adds its rows after this one.
    """
    if db.engine.dialect.name == "postgresql":
        db.session.execute(select(Send.id).where(Send.id == send_id).with_for_update())
    db.session.execute(
        update(Send)
        .where(Send.id == send_id)
        .values(
            sent=counted(DeliveryStatus.SENT),
            failed=counted(DeliveryStatus.BOUNCED) + counted(DeliveryStatus.FAILED),
            skipped=counted(DeliveryStatus.SKIPPED),
            possible_duplicates=select(func.count())
            .where(Delivery.send_id == Send.id, Delivery.possible_duplicate.is_(True))
            .scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def close_unreached(
    send_id: int, after_id: int, upto_id: int, status: DeliveryStatus, reason: str
) -> int:
    """Readers of the send in (after_id, upto_id] who got nothing end as `status` (failed or
    skipped); return how many had no ledger row yet.

    Still-queued rows (deferred) move to `status` (a failure keeps the relay's last answer,
    a skip says `reason`); confirmed readers in the range without a row get one saying
    `reason`. The send's counter goes up by as many, in the caller's transaction (the
    session's).
    """
    in_range = and_(Delivery.subscriber_id > after_id, Delivery.subscriber_id <= upto_id)
    moved = {"status": status, "updated_at": utcnow()}
    if status != DeliveryStatus.FAILED:
        moved["response"] = reason[:1000]
    deferred = db.session.execute(
        update(Delivery)
        .where(Delivery.send_id == send_id, Delivery.status == DeliveryStatus.QUEUED, in_range)
        .values(**moved)
        .execution_options(synchronize_session=False)
    ).rowcount
    newsletter_id = select(Send.newsletter_id).where(Send.id == send_id).scalar_subquery()
    unreached = select(
        literal(send_id),
        Subscription.subscriber_id,
        literal(status.value),
        literal(0),
        literal(reason[:1000]),
        literal(utcnow(), DateTime()),
    ).where(
        Subscription.newsletter_id == newsletter_id,
        Subscription.status == SubscriptionStatus.CONFIRMED,
        Subscription.subscriber_id > after_id,
        Subscription.subscriber_id <= upto_id,
        ~exists().where(
            Delivery.send_id == send_id, Delivery.subscriber_id == Subscription.subscriber_id
        ),
    )
    columns = ["send_id", "subscriber_id", "status", "attempts", "response", "updated_at"]
    added = db.session.execute(
        insert_ignoring_conflicts(Delivery).from_select(columns, unreached)
    ).rowcount
    if deferred + added:  # in the same commit as the rows, like the ledger's own counters
        counter = COUNTERS[status]
        db.session.execute(
            update(Send)
            .where(Send.id == send_id)
            .values({counter: getattr(Send, counter) + deferred + added})
        )
    return added


def defer_reason(send_id: int) -> str | None:
    """Why the send's deferred readers wait: the relay's last answer (or the connection
    error) recorded on a still-queued delivery; None if none is queued."""
    return db.session.scalar(
        select(Delivery.response)
        .where(Delivery.send_id == send_id, Delivery.status == DeliveryStatus.QUEUED)
        .order_by(Delivery.updated_at.desc())
        .limit(1)
    )
