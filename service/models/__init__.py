"""The data model: one module per aggregate, all re-exported here for Alembic and callers."""

from service.models.apikey import ApiKey
from service.models.article import Article
from service.models.audit import AuditEvent
from service.models.base import Base, utcnow
from service.models.daily import NewsletterDay
from service.models.feed import FeedState as FeedState
from service.models.feedback import FeedbackRecord, UsedToken
from service.models.heartbeat import Heartbeat
from service.models.newsletter import Newsletter
from service.models.outbox import JobStatus, OutboxJob
from service.models.reader_count import NewsletterReaderCount
from service.models.send import (
    BatchStatus,
    Delivery,
    DeliveryStatus,
    Send,
    SendBatch,
    SendStatus,
)
from service.models.source_day import NewsletterSourceDay
from service.models.spool import SpooledSignup
from service.models.staff import StaffMember
from service.models.subscriber import (
    ConsentRecord,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
    Suppression,
)
from service.models.upload import ListImport
from service.models.webhook import WebhookAttempt, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Article",
    "AuditEvent",
    "Base",
    "BatchStatus",
    "ConsentRecord",
    "Delivery",
    "DeliveryStatus",
    "FeedbackRecord",
    "Heartbeat",
    "JobStatus",
    "ListImport",
    "Newsletter",
    "NewsletterDay",
    "NewsletterReaderCount",
    "NewsletterSourceDay",
    "OutboxJob",
    "Send",
    "SendBatch",
    "SendStatus",
    "SpooledSignup",
    "StaffMember",
    "Subscriber",
    "Subscription",
    "SubscriptionEvent",
    "SubscriptionStatus",
    "Suppression",
    "UsedToken",
    "WebhookAttempt",
    "WebhookEndpoint",
    "utcnow",
]
