"""Leaving and choosing: one-click unsubscribe, preferences, suppression and pending expiry.

Plain functions on the database session. Every change of a subscription's status is recorded
as a `SubscriptionEvent` with its cause. Unsubscribe links are signed per (reader, newsletter)
and never expire (RFC 8058 mail clients may post them years later); preference links are
signed per reader. Unsubscribing from everything also puts the address (as a SHA-256 of its
key) on the suppression list, which the sender checks before mailing anyone.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale, lazy_gettext
from flask_babel import gettext as _
from sqlalchemy import delete, select

from service import jobs
from service.extensions import db
from service.mail import send_transactional
from service.models import (
    ConsentRecord,
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
    Suppression,
    utcnow,
)
from service.subscriptions import suppression_hash
from service.tokens import TokenInvalid, token_service
from service.validation import Address

MANAGE_LINK_TASK = "preferences.send_manage_link"
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"
UNSUBSCRIBE_ALL = "unsubscribe_all"
# Suppressions that stop even mail a reader asks for (a manage link): the address is dead or banned.
HARD_REASONS = {"manual", "bounce", "hard_bounce", "erased"}
ACTIVE = (SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED)


class ReaderGone(TokenInvalid):
    """The token is authentic, but its reader or newsletter has been erased since."""


@dataclass
class UnsubscribeTarget:
    """What an unsubscribe token points at: the reader and the newsletter they want to leave."""

    subscriber: Subscriber
    newsletter: Newsletter
    subscription: Subscription | None


# -- links and headers --------------------------------------------------------------------


def unsubscribe_token(subscriber_id: int, newsletter_id: int) -> str:
    """The signed, never-expiring token of one reader's unsubscribe link for one newsletter."""
    return token_service("unsubscribe").dumps({"s": subscriber_id, "n": newsletter_id})


def preferences_token(subscriber_id: int) -> str:
    """The signed token of one reader's preference page."""
    return token_service("preferences").dumps({"s": subscriber_id})


def unsubscribe_url(subscriber_id: int, newsletter_id: int) -> str:
    """The absolute one-click unsubscribe URL (the List-Unsubscribe target and footer link)."""
    base = current_app.config["PUBLIC_URL"]
    return f"{base}/unsubscribe/{unsubscribe_token(subscriber_id, newsletter_id)}"


def preferences_url(subscriber_id: int) -> str:
    """The absolute URL of the reader's preference page."""
    return f"{current_app.config['PUBLIC_URL']}/preferences/{preferences_token(subscriber_id)}"


def list_unsubscribe_headers(subscriber_id: int, newsletter_id: int) -> dict[str, str]:
    """`List-Unsubscribe` (+ a mailto when `UNSUBSCRIBE_MAILTO` is set) and `-Post` (RFC 8058)."""
    targets = [f"<{unsubscribe_url(subscriber_id, newsletter_id)}>"]
    mailto = current_app.config["UNSUBSCRIBE_MAILTO"]
    if mailto:
        token = unsubscribe_token(subscriber_id, newsletter_id)
        targets.append(f"<mailto:{mailto}?subject=unsubscribe-{token}>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": ONE_CLICK_BODY,
    }


def form_secret(token: str, form: str) -> str:
    """A per-form anti-forgery value derived from the page's token (the pages set no cookies)."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{form}:{token}".encode(), hashlib.sha256).hexdigest()[:40]


def check_form_secret(token: str, form: str, value: str | None) -> bool:
    """True if `value` is the anti-forgery value of `form` on the page of `token`."""
    return bool(value) and hmac.compare_digest(form_secret(token, form), value or "")


# -- loading tokens -----------------------------------------------------------------------


def load_unsubscribe(token: str) -> UnsubscribeTarget:
    """The reader and newsletter an unsubscribe token names; raise TokenInvalid."""
    payload = token_service("unsubscribe").loads(token)
    subscriber = _get(Subscriber, payload.get("s"))
    newsletter = _get(Newsletter, payload.get("n"))
    subscription = db.session.scalar(
        select(Subscription).where(
            Subscription.subscriber_id == subscriber.id,
            Subscription.newsletter_id == newsletter.id,
        )
    )
    return UnsubscribeTarget(subscriber, newsletter, subscription)


def load_preferences(token: str) -> Subscriber:
    """The reader a preferences token belongs to; raise TokenInvalid."""
    payload = token_service("preferences").loads(token)
    return _get(Subscriber, payload.get("s"))


def _get(model: type, ident: object):
    if not isinstance(ident, int):
        raise TokenInvalid("malformed payload")
    row = db.session.get(model, ident)
    if row is None:
        raise ReaderGone(f"no such {model.__name__.lower()}")
    return row


# -- state changes ------------------------------------------------------------------------


def _change(subscription: Subscription, status: str, cause: str) -> bool:
    """Move `subscription` to `status`, recording the event; False if it already was there."""
    previous = subscription.status
    if previous == status:
        return False
    now = utcnow()
    subscription.status = status
    subscription.updated_at = now
    if status == SubscriptionStatus.UNSUBSCRIBED:
        subscription.unsubscribed_at = now
    elif status == SubscriptionStatus.CONFIRMED and subscription.confirmed_at is None:
        subscription.confirmed_at = now
    db.session.add(
        SubscriptionEvent(
            subscription=subscription, from_status=previous, to_status=status, cause=cause
        )
    )
    return True


def _subscription(subscriber_id: int, newsletter_id: int) -> Subscription | None:
    return db.session.scalar(
        select(Subscription).where(
            Subscription.subscriber_id == subscriber_id,
            Subscription.newsletter_id == newsletter_id,
        )
    )


def unsubscribe(subscriber_id: int, newsletter_id: int, cause: str) -> bool:
    """Unsubscribe a reader from one newsletter at once; True if anything changed."""
    subscription = _subscription(subscriber_id, newsletter_id)
    changed = subscription is not None and subscription.status in ACTIVE
    if changed:
        _change(subscription, SubscriptionStatus.UNSUBSCRIBED, cause)
        subscription.subscriber.state_version += 1
    db.session.commit()
    return changed


def unsubscribe_all(subscriber_id: int, cause: str = UNSUBSCRIBE_ALL) -> int:
    """Unsubscribe a reader from every newsletter and suppress the address; return how many."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return 0
    changed = 0
    for subscription in subscriber.subscriptions:
        if subscription.status in ACTIVE:
            changed += _change(subscription, SubscriptionStatus.UNSUBSCRIBED, cause)
    subscriber.state_version += 1
    _add_suppression(subscriber.email_key, UNSUBSCRIBE_ALL, f"subscriber {subscriber.id}")
    db.session.commit()
    return changed


def resubscribe(subscriber_id: int, newsletter_id: int | None, cause: str = "undo") -> int:
    """Undo a mistaken unsubscribe: restore what the last unsubscribe changed; return how many.

    With `newsletter_id` None, undo an unsubscribe-from-everything (and lift its suppression).
    Only subscriptions whose latest event is still that unsubscribe are restored, to the status
    they had before it.
    """
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return 0
    if newsletter_id is None:
        candidates = list(subscriber.subscriptions)
        wanted_cause = UNSUBSCRIBE_ALL
    else:
        candidates = [s for s in subscriber.subscriptions if s.newsletter_id == newsletter_id]
        wanted_cause = None
    restored = 0
    for subscription in candidates:
        last = _last_event(subscription.id)
        if (
            last is None
            or last.to_status != SubscriptionStatus.UNSUBSCRIBED
            or subscription.status != SubscriptionStatus.UNSUBSCRIBED
            or (wanted_cause and last.cause != wanted_cause)
            or last.from_status not in ACTIVE
        ):
            continue
        restored += _change(subscription, last.from_status, cause)
    if newsletter_id is None:
        _remove_suppression(subscriber.email_key, {UNSUBSCRIBE_ALL})
    if restored:
        subscriber.state_version += 1
    db.session.commit()
    return restored


def _last_event(subscription_id: int) -> SubscriptionEvent | None:
    return db.session.scalar(
        select(SubscriptionEvent)
        .where(SubscriptionEvent.subscription_id == subscription_id)
        .order_by(SubscriptionEvent.id.desc())
        .limit(1)
    )


def save_preferences(
    subscriber_id: int,
    wanted: Iterable[int],
    cause: str = "preferences",
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> int:
    """Keep the reader on exactly the public newsletters `wanted` (ids); return how many changed.

    The preference link was mailed to the reader, so following it proves the address: chosen
    newsletters are confirmed at once, and an unsubscribe-from-everything suppression is lifted.
    A manual block or a hard bounce is never lifted here.
    """
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return 0
    wanted_ids = set(wanted)
    blocked = suppression_reason(subscriber.email_key) in HARD_REASONS
    by_newsletter = {s.newsletter_id: s for s in subscriber.subscriptions}
    changed = 0
    added = []
    for newsletter in public_newsletters():
        subscription = by_newsletter.get(newsletter.id)
        if newsletter.id in wanted_ids and not blocked:
            if subscription is None:
                subscription = Subscription(newsletter=newsletter, status=None)
                subscriber.subscriptions.append(subscription)
            if subscription.status != SubscriptionStatus.CONFIRMED:
                changed += _change(subscription, SubscriptionStatus.CONFIRMED, cause)
                added.append(newsletter.slug)
        elif subscription is not None and subscription.status in ACTIVE:
            changed += _change(subscription, SubscriptionStatus.UNSUBSCRIBED, cause)
    if added:  # the consent record's proof for newsletters chosen on the preference page
        db.session.add(
            ConsentRecord(
                subscriber=subscriber,
                action="preferences",
                newsletters=",".join(added),
                ip=ip,
                user_agent=(user_agent or "")[:400] or None,
                form="preferences-link",
            )
        )
    if changed:
        subscriber.state_version += 1
    if wanted_ids and not blocked:
        _remove_suppression(subscriber.email_key, {UNSUBSCRIBE_ALL})
    db.session.commit()
    return changed


def public_newsletters() -> list[Newsletter]:
    """Every public newsletter, in a stable order."""
    return list(
        db.session.scalars(select(Newsletter).where(Newsletter.is_public).order_by(Newsletter.id))
    )


# -- the suppression list -----------------------------------------------------------------


def _add_suppression(email_key: str, reason: str, detail: str) -> None:
    digest = suppression_hash(email_key)
    existing = db.session.scalar(select(Suppression).where(Suppression.email_hash == digest))
    if existing is None:
        db.session.add(Suppression(email_hash=digest, reason=reason, detail=detail))
    elif existing.reason == UNSUBSCRIBE_ALL and reason != UNSUBSCRIBE_ALL:
        existing.reason, existing.detail = reason, detail  # a harder reason wins


def _remove_suppression(email_key: str, reasons: set[str] | None = None) -> None:
    statement = delete(Suppression).where(Suppression.email_hash == suppression_hash(email_key))
    if reasons is not None:
        statement = statement.where(Suppression.reason.in_(reasons))
    db.session.execute(statement)


def suppress(email_key: str, reason: str, detail: str = "") -> None:
    """Put an address on the suppression list (`manual`, `bounce`, `unsubscribe_all`, ...)."""
    _add_suppression(email_key, reason, detail)
    db.session.commit()


def unsuppress(email_key: str) -> None:
    """Take an address off the suppression list, whatever the reason."""
    _remove_suppression(email_key)
    db.session.commit()


def suppression_reason(email_key: str) -> str | None:
    """Why an address is suppressed, or None if it is not."""
    return db.session.scalar(
        select(Suppression.reason).where(Suppression.email_hash == suppression_hash(email_key))
    )


def is_suppressed(email_key: str) -> bool:
    """True if nothing may be mailed to this address on any newsletter."""
    return suppression_reason(email_key) is not None


def suppressed_keys(email_keys: Iterable[str]) -> set[str]:
    """The subset of `email_keys` on the suppression list (one query, for a send batch)."""
    by_hash = {suppression_hash(key): key for key in email_keys}
    if not by_hash:
        return set()
    found = db.session.scalars(
        select(Suppression.email_hash).where(Suppression.email_hash.in_(list(by_hash)))
    )
    return {by_hash[digest] for digest in found}


# -- expiry of unconfirmed signups --------------------------------------------------------


def pending_expiry_days() -> int:
    """Days an unconfirmed signup is kept (`PENDING_EXPIRY_DAYS`, default 30)."""
    return int(current_app.config["PENDING_EXPIRY_DAYS"])


def purge_expired_pending(days: int | None = None) -> int:
    """Drop signups left pending longer than `days`; return how many subscriptions expired.

    A subscription that was never confirmed is deleted; one that had been confirmed before (a
    re-signup after leaving) goes back to `unsubscribed`. A reader left with no subscription
    at all is deleted with their consent records: nothing is kept about someone who never
    confirmed.
    """
    cutoff = utcnow() - timedelta(days=pending_expiry_days() if days is None else days)
    expired = db.session.scalars(
        select(Subscription).where(
            Subscription.status == SubscriptionStatus.PENDING, Subscription.updated_at < cutoff
        )
    ).all()
    touched = set()
    for subscription in expired:
        touched.add(subscription.subscriber)
        if subscription.confirmed_at is None:
            subscription.subscriber.subscriptions.remove(subscription)
        else:
            _change(subscription, SubscriptionStatus.UNSUBSCRIBED, "expired")
    db.session.flush()
    for subscriber in touched:
        if not subscriber.subscriptions:
            db.session.delete(subscriber)
    db.session.commit()
    return len(expired)


# -- "manage my subscriptions": a preference link by email --------------------------------


def request_manage_link(address: Address, locale: str) -> None:
    """Queue an email with a preference link if the address is known; silent otherwise."""
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email_key == address.key))
    if subscriber is None or suppression_reason(subscriber.email_key) in HARD_REASONS:
        return
    job = jobs.add_job(MANAGE_LINK_TASK, {"subscriber_id": subscriber.id, "locale": locale})
    db.session.commit()
    jobs.hand_over([job])


def send_manage_link_email(subscriber_id: int, locale: str | None = None) -> None:
    """Render and send the preference-link email to `subscriber_id` (run by a worker)."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return
    send_transactional(
        "manage-link",
        subscriber,
        locale=locale or subscriber.locale,
        preferences_url=preferences_url(subscriber.id),
    )


# -- cadence in words ---------------------------------------------------------------------

_DAYS = {"0": 6, "7": 6, "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5}
_WEEKDAYS = [
    lazy_gettext("Monday"),
    lazy_gettext("Tuesday"),
    lazy_gettext("Wednesday"),
    lazy_gettext("Thursday"),
    lazy_gettext("Friday"),
    lazy_gettext("Saturday"),
    lazy_gettext("Sunday"),
]


def cadence(newsletter: Newsletter, locale: str) -> str:
    """A short human description of a newsletter's cron schedule ("Daily at 07:00")."""
    with force_locale(locale):
        return _cadence(newsletter.schedule_cron)


def _cadence(cron: str | None) -> str:
    fields = (cron or "").split()
    if len(fields) != 5:
        return _("From time to time")
    minute, hour, day, month, weekday = fields
    if not (minute.isdigit() and hour.isdigit()) or day != "*" or month != "*":
        return _("On a regular schedule")
    at = f"{int(hour):02d}:{int(minute):02d}"
    if weekday == "*":
        return _("Daily at %(time)s", time=at)
    if weekday in {"1-5", "mon-fri", "MON-FRI"}:
        return _("Weekdays at %(time)s", time=at)
    if weekday in _DAYS:
        day_name = str(_WEEKDAYS[_DAYS[weekday]])
        return _("Every %(day)s at %(time)s", day=day_name, time=at)
    return _("On a regular schedule")
