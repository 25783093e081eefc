"""Readers: the filtered list, one reader's export, timeline and erasure."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from service.http.schemas.common import NEXT, Id, Model, PageQuery, Time
from service.lists.browse import ADDRESS_MAX, SOURCE_MAX, WHEN
from service.lists.browse import STATUSES as READER_STATUSES

ReaderStatus = Literal[READER_STATUSES]  # type: ignore[valid-type]
When = Field(
    None,
    pattern="^" + WHEN.pattern + "$",
    description="RFC 3339 time, or a date (midnight UTC); no zone: UTC",
)


class SubscriberQuery(PageQuery):
    """Filters of the list of readers (`status` alone: any subscription in it)."""

    newsletter: str | None = Field(None, description="a newsletter's slug")
    status: ReaderStatus | None = None
    source: str | None = Field(
        None, max_length=SOURCE_MAX, description="`import`, or the form they signed up on"
    )
    created_after: str | None = When
    created_before: str | None = When
    email: str | None = Field(None, description="an exact address, any case")
    email_prefix: str | None = Field(None, max_length=ADDRESS_MAX)


class SubscriberPath(Model):
    """A reader named by id."""

    subscriber_id: Id


class Subscription(Model):
    """A reader's standing in one newsletter."""

    newsletter: str
    status: ReaderStatus
    confirmed_at: Time | None


class Subscriber(Model):
    """A reader and each of their subscriptions."""

    id: int
    email: str
    name: str | None
    locale: str | None
    created_at: Time
    subscriptions: list[Subscription]

    @classmethod
    def of(cls, reader: Any) -> Subscriber:
        """The answer for a stored reader."""
        held = [
            {"newsletter": s.newsletter.slug, "status": s.status, "confirmed_at": s.confirmed_at}
            for s in reader.subscriptions
        ]
        return cls.model_validate(
            {"id": reader.id, "email": reader.email, "name": reader.name,
             "locale": reader.locale, "created_at": reader.created_at, "subscriptions": held}
        )  # fmt: skip


class SubscriberList(Model):
    """A page of readers, by id."""

    subscribers: list[Subscriber]
    next: str | None = Field(description=NEXT)


class SubscriberExport(Model):
    """Everything held about one reader (GDPR export)."""

    model_config = {"extra": "allow"}
    id: int
    email: str
    subscriptions: list[dict[str, Any]]
    events: list[dict[str, Any]]
    consent_records: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]


class ConsentState(Model):
    """A subscription's standing and the consent behind it."""

    newsletter: str
    status: str
    subscribed_at: str
    confirmed_at: str | None
    unsubscribed_at: str | None
    consent_source: str | None = Field(description="an import's consent; null when confirmed")


class TimelineEvent(Model):
    """`subscription` (a status change), `consent` (a consent record) or `delivery` (the send
    ledger; `at` is its last change)."""

    model_config = {"extra": "allow"}
    kind: Literal["subscription", "consent", "delivery"]
    at: str


class Timeline(Model):
    """A page of a reader's history, newest first, with each subscription's consent."""

    id: int
    consent: list[ConsentState]
    events: list[TimelineEvent]
    next: str | None = Field(description=NEXT)


class Erased(Model):
    """A reader whose personal data is gone."""

    id: int
    status: Literal["erased"]
