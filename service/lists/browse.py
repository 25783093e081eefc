"""Readers as ops browse them: filtered by newsletter, status, signup source, signup date and
address, in keyset pages in the order they signed up (id)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, exists, select

from service.addresses import InvalidEmail, parse_address
from service.extensions import db
from service.models import ConsentRecord, Newsletter, Subscriber, Subscription
from service.models.subscriber import SubscriptionStatus

FILTERS = ("newsletter", "status", "source", "created_after", "created_before", "email",
           "email_prefix")  # fmt: skip
STATUSES = tuple(s.value for s in SubscriptionStatus)
SOURCE_MAX = 64
ADDRESS_MAX = 320
# RFC 3339 (a date alone is midnight UTC; no zone is UTC).
WHEN = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
)
IMPORT = "import"


class FilterInvalid(ValueError):
    """A filter cannot be used; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ReaderFilter:
    """What a page of readers is narrowed to (None: not narrowed)."""

    newsletter_id: int | None = None
    status: str | None = None
    source: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    email_key: str | None = None
    email_prefix: str | None = None


def parse_when(field: str, value: str) -> datetime:
    """A time from a query (RFC 3339, or a date: midnight UTC), in UTC; FilterInvalid else."""
    if not WHEN.fullmatch(value):
        raise FilterInvalid(field, f"{field} must be an RFC 3339 time or a date (2026-12-01).")
    try:
        when = datetime.fromisoformat(value.upper())
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise FilterInvalid(field, f"{field} is not a real time: {value[:40]!r}.") from None


def reader_filter(args: Mapping[str, str]) -> ReaderFilter:
    """The filters of `GET /api/v1/subscribers` from its query, checked; FilterInvalid else."""
    values: dict[str, object] = {}
    slug = args.get("newsletter")
    if slug:
        found = db.session.scalar(select(Newsletter.id).where(Newsletter.slug == slug[:100]))
        if found is None:
            raise FilterInvalid("newsletter", f"No newsletter {slug[:100]!r}.")
        values["newsletter_id"] = found
    status = args.get("status")
    if status is not None:
        if status not in STATUSES:
            raise FilterInvalid("status", "status is one of: " + ", ".join(STATUSES) + ".")
        values["status"] = status
    source = args.get("source")
    if source:
        if len(source) > SOURCE_MAX:
            raise FilterInvalid("source", f"source is at most {SOURCE_MAX} characters.")
        values["source"] = source
    for field in ("created_after", "created_before"):
        if args.get(field) is not None:
            values[field] = parse_when(field, args[field])
    email = (args.get("email") or "").strip()
    if email:
        try:
            values["email_key"] = parse_address(email, allow_smtputf8=True).key
        except InvalidEmail:
            values["email_key"] = email.lower()
    prefix = args.get("email_prefix")
    if prefix:
        if len(prefix) > ADDRESS_MAX:
            raise FilterInvalid("email_prefix", f"email_prefix is at most {ADDRESS_MAX} long.")
        values["email_prefix"] = prefix.strip().lower()
    return ReaderFilter(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class NewsletterRef:
    """A newsletter as a listed subscription names it (`.slug`, as a stored one's has)."""

    slug: str


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    """A subscription as the list shows it: its newsletter, its status, when confirmed."""

    newsletter: NewsletterRef
    status: str
    confirmed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReaderRow:
    """A reader as the list shows it, read as plain columns (no ORM object per row: a 500-row
    page would spend most of its time building them)."""

    id: int
    email: str
    name: str | None
    locale: str
    created_at: datetime
    subscriptions: list[SubscriptionRow]


def browse_readers(wanted: ReaderFilter, after_id: int, limit: int) -> list[ReaderRow]:
    """Up to `limit` readers matching `wanted`, with id above `after_id`, by id."""
    query = select(
        Subscriber.id, Subscriber.email, Subscriber.name, Subscriber.locale, Subscriber.created_at
    ).where(Subscriber.id > after_id)
    if wanted.newsletter_id is not None or wanted.status is not None:
        # the cursor repeated inside: the index (newsletter, status, reader) is then a range
        conditions = [
            Subscription.subscriber_id == Subscriber.id,
            Subscription.subscriber_id > after_id,
        ]
        if wanted.newsletter_id is not None:
            conditions.append(Subscription.newsletter_id == wanted.newsletter_id)
        if wanted.status is not None:
            conditions.append(Subscription.status == wanted.status)
        query = query.where(exists().where(and_(*conditions)))
    if wanted.source is not None:
        how = (
            ConsentRecord.action == IMPORT
            if wanted.source == IMPORT
            else and_(ConsentRecord.action == "signup", ConsentRecord.form == wanted.source)
        )
        query = query.where(
            exists().where(
                ConsentRecord.subscriber_id == Subscriber.id,
                ConsentRecord.subscriber_id > after_id,
                how,
            )
        )
    if wanted.created_after is not None:
        query = query.where(Subscriber.created_at > wanted.created_after)
    if wanted.created_before is not None:
        query = query.where(Subscriber.created_at < wanted.created_before)
    if wanted.email_key is not None:
        query = query.where(Subscriber.email_key == wanted.email_key)
    if wanted.email_prefix:
        # a whole LIKE pattern as one value, so PostgreSQL can plan it on its prefix index
        escaped = re.sub(r"([\\%_])", r"\\\1", wanted.email_prefix)
        query = query.where(Subscriber.email_key.like(escaped + "%", escape="\\"))
    readers = db.session.execute(query.order_by(Subscriber.id).limit(limit)).all()
    if not readers:
        return []
    held: dict[int, list[SubscriptionRow]] = {reader.id: [] for reader in readers}
    # one look-up of the unique (subscriber, newsletter) index for the whole page
    subscriptions = db.session.execute(
        select(
            Subscription.subscriber_id,
            Newsletter.slug,
            Subscription.status,
            Subscription.confirmed_at,
        )
        .join(Newsletter, Newsletter.id == Subscription.newsletter_id)
        .where(Subscription.subscriber_id.in_(list(held)))
        .order_by(Subscription.subscriber_id, Subscription.id)
    )
    refs: dict[str, NewsletterRef] = {}
    for subscriber_id, slug, status, confirmed_at in subscriptions:
        ref = refs.setdefault(slug, NewsletterRef(slug))
        held[subscriber_id].append(SubscriptionRow(ref, status, confirmed_at))
    return [ReaderRow(*reader, subscriptions=held[reader.id]) for reader in readers]
