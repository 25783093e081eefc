"""The suppression list: addresses never to mail again, kept only as a SHA-256 of their key.

A reader who unsubscribes from everything, a hard bounce, a manual block and an erasure all
end here; the sender checks the list before mailing anyone. A harder reason replaces
`unsubscribe_all`, never the other way round.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import delete, select

from service.extensions import db, insert_ignoring_conflicts
from service.models import Subscription, SubscriptionStatus, Suppression, utcnow

UNSUBSCRIBE_ALL = "unsubscribe_all"
MANUAL = "manual"
BOUNCE = "bounce"
ERASED = "erased"
COMPLAINT = "complaint"  # the reader reported a newsletter as spam (service.deliverability)
# Suppressions that stop even mail a reader asks for (a manage link): the address is dead or banned.
HARD_REASONS = {MANUAL, BOUNCE, "hard_bounce", ERASED}
# Suppressions a reader's own confirmed opt-in lifts (the link proves the mailbox works and is
# theirs); a block ops put on by hand (`manual`, or a reason of their own) stays.
LIFTED_BY_CONFIRMING = {UNSUBSCRIBE_ALL, BOUNCE, "hard_bounce", ERASED, COMPLAINT}


def suppression_hash(email_key: str) -> str:
    """The SHA-256 by which a suppressed address is remembered."""
    return hashlib.sha256(email_key.encode()).hexdigest()


def _by_key(email_key: str):
    return Suppression.email_hash == suppression_hash(email_key)


def add(email_key: str, reason: str, detail: str = "") -> None:
    """Put an address on the list in the session's transaction (the caller commits)."""
    existing = db.session.scalar(select(Suppression).where(_by_key(email_key)))
    if existing is None:
        db.session.add(
            Suppression(email_hash=suppression_hash(email_key), reason=reason, detail=detail)
        )
    elif existing.reason == UNSUBSCRIBE_ALL and reason != UNSUBSCRIBE_ALL:
        existing.reason, existing.detail = reason, detail  # a harder reason wins


def remove(email_key: str, reasons: Iterable[str] | None = None) -> None:
    """Take an address off the list (only for `reasons`, if given), in the session's transaction."""
    statement = delete(Suppression).where(_by_key(email_key))
    if reasons is not None:
        statement = statement.where(Suppression.reason.in_(list(reasons)))
    db.session.execute(statement)


def suppress(email_key: str, reason: str, detail: str = "") -> None:
    """Put an address on the suppression list (`manual`, `bounce`, `unsubscribe_all`, ...)."""
    add(email_key, reason, detail)
    db.session.commit()


def unsuppress(email_key: str) -> None:
    """Take an address off the suppression list, whatever the reason."""
    remove(email_key)
    db.session.commit()


def reason(email_key: str) -> str | None:
    """Why an address is suppressed, or None if it is not."""
    return db.session.scalar(select(Suppression.reason).where(_by_key(email_key)))


def suppressed_keys(email_keys: Iterable[str]) -> set[str]:
    """The subset of `email_keys` on the suppression list (one query, for a send batch)."""
    by_hash = {suppression_hash(key): key for key in email_keys}
    if not by_hash:
        return set()
    found = db.session.scalars(
        select(Suppression.email_hash).where(Suppression.email_hash.in_(list(by_hash)))
    )
    return {by_hash[digest] for digest in found}


def record_bounce(subscriber_id: int, newsletter_id: int, email_key: str, detail: str) -> None:
    """A permanent failure: the subscription is `bounced` and the address suppressed (committed)."""
    subscription = db.session.scalar(
        select(Subscription).where(
            Subscription.subscriber_id == subscriber_id,
            Subscription.newsletter_id == newsletter_id,
        )
    )
    if subscription is not None:
        subscription.move_to(SubscriptionStatus.BOUNCED, BOUNCE)
    db.session.execute(
        insert_ignoring_conflicts(Suppression).values(
            email_hash=suppression_hash(email_key),
            reason=BOUNCE,
            detail=detail[:1000],
            created_at=utcnow(),
        )
    )
    db.session.commit()
