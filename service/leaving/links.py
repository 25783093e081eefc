"""The links that let a reader leave or choose, their tokens and URLs, and `List-Unsubscribe`.

Unsubscribe links are signed per (reader, newsletter) and never expire (RFC 8058 mail clients
may post them years later); preference links are signed per reader. Every email and page
builds these links here; a digest send builds them with placeholder tokens that
`service.sending.personalize` fills in per reader.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from service.extensions import db
from service.models import Newsletter, Subscriber, Subscription
from service.tokens import TokenInvalid, token_service

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


class ReaderGone(TokenInvalid):
    """The token is authentic, but its reader or newsletter has been erased since."""


@dataclass
class UnsubscribeTarget:
    """What an unsubscribe token points at: the reader and the newsletter they want to leave."""

    subscriber: Subscriber
    newsletter: Newsletter
    subscription: Subscription | None


def unsubscribe_token(subscriber_id: int, newsletter_id: int) -> str:
    """The signed, never-expiring token of one reader's unsubscribe link for one newsletter."""
    return token_service("unsubscribe").dumps({"s": subscriber_id, "n": newsletter_id})


def preferences_token(subscriber_id: int) -> str:
    """The signed token of one reader's preference page."""
    return token_service("preferences").dumps({"s": subscriber_id})


def unsubscribe_url(token: str) -> str:
    """The absolute one-click unsubscribe URL of `token` (the List-Unsubscribe target)."""
    return f"{current_app.config['PUBLIC_URL']}/unsubscribe/{token}"


def preferences_url(token: str) -> str:
    """The absolute URL of the preference page of `token`."""
    return f"{current_app.config['PUBLIC_URL']}/preferences/{token}"


def list_unsubscribe_headers(token: str) -> dict[str, str]:
    """`List-Unsubscribe` (+ a mailto when `UNSUBSCRIBE_MAILTO` is set) and `-Post` (RFC 8058).

    The inbound mailto carries the token in its subject.
    """
    targets = [f"<{unsubscribe_url(token)}>"]
    mailto = current_app.config["UNSUBSCRIBE_MAILTO"]
    if mailto:
        targets.append(f"<mailto:{mailto}?subject=unsubscribe-{token}>")
    return {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": ONE_CLICK_BODY}


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
