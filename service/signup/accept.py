"""Accepting a signup: the web request's side, one durable insert and a 202.

The request checks the signup (`service.http.public.signup` runs the abuse checks) and stores it
whole as one outbox job (`subscribe`); a worker applies it (`service.signup.apply`). The
answer is the same whatever the address's state, so nothing can be learnt by probing.
With the database away the same job is spooled instead (`service.signup.replay`) and written
when it is back; only a spool that cannot take it either fails the request (`SpoolUnavailable`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from service import metrics, outbox
from service.addresses import Address
from service.database_away import is_away, reason
from service.lists import newsletter_index
from service.models import utcnow
from service.signup import replay
from service.signup.spool import SpoolUnavailable
from service.task_names import TaskName

__all__ = ["SignupRequest", "SpoolUnavailable", "UnknownNewsletter", "subscribe"]
log = logging.getLogger(__name__)

# The subscriber's columns a signup job carries (the worker inserts exactly these).
SUBSCRIBER_FIELDS = ("email", "email_ascii", "email_key", "smtputf8", "name", "locale")


class UnknownNewsletter(ValueError):
    """A requested newsletter slug does not exist."""


@dataclass
class SignupRequest:
    """What a reader submitted, plus where it came from (for the consent record)."""

    address: Address
    newsletters: Sequence[str]
    name: str | None = None
    locale: str = "en"
    source_url: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    form: str | None = None


def newsletter_ids(slugs: Sequence[str]) -> list[int]:
    """The ids of the newsletters `slugs`; raise UnknownNewsletter if any is missing."""
    wanted = list(dict.fromkeys(slugs))
    known = newsletter_index.newsletters(wanted)
    unknown = [slug for slug in wanted if slug not in known]
    if unknown:
        raise UnknownNewsletter(", ".join(unknown))
    return [known[slug].id for slug in wanted]


def subscribe(request: SignupRequest) -> None:
    """Accept a signup: store it as one outbox job, committed, and publish it soon.

    The 202 never promises what is not stored. If the broker is down the job waits for
    beat's sweep; a worker applies it either way. If the database is away (or signups
    spooled before this one still wait), the job is spooled and written when it is back;
    SpoolUnavailable if the spool cannot take it.
    """
    now = utcnow()  # one clock reading: the job's time is the consent record's
    payload = {
        **_subscriber_values(request),
        **_consent_values(request),
        "at": now.isoformat(),
    }
    if replay.holding():  # earlier signups are spooled: this one queues behind them
        try:
            replay.hold({**payload, "newsletter_slugs": list(dict.fromkeys(request.newsletters))})
            return
        except SpoolUnavailable:
            pass  # the spool went away meanwhile: better out of order than lost
    try:
        payload["newsletter_ids"] = newsletter_ids(request.newsletters)
        outbox.enqueue_now(TaskName.APPLY_SIGNUPS, payload, now)
    except UnknownNewsletter:
        raise
    except Exception as exc:
        if not is_away(exc):
            raise
        log.warning(
            "database away (%s): spooling the signup",
            reason(exc),
            extra={"event": "signup_spooled"},
        )
        payload.pop("newsletter_ids", None)
        replay.hold({**payload, "newsletter_slugs": list(dict.fromkeys(request.newsletters))})


def count_answer(outcome: str, slugs: Sequence[str]) -> None:
    """Count a signup answered with `outcome` (`metrics.SIGNUP_OUTCOMES`) under each newsletter
    it named that this process knows: a slug a request made up never becomes a label."""
    try:
        known = newsletter_index.newsletters()  # this process's copy: no query per unknown slug
    except SQLAlchemyError:  # the database is away: the signup is still counted, unlabelled
        known = {}
    metrics.signup(outcome, [slug for slug in dict.fromkeys(slugs) if slug in known])


def _subscriber_values(request: SignupRequest) -> dict[str, Any]:
    address = request.address
    return {
        "email": address.display,
        "email_ascii": address.ascii,
        "email_key": address.key,
        "smtputf8": address.smtputf8,
        "name": request.name,
        "locale": request.locale,
    }


def _consent_values(request: SignupRequest) -> dict[str, Any]:
    """The proof of opt-in: what was asked for, from where, by which browser."""
    return {
        "newsletters": ",".join(request.newsletters),
        "ip": request.ip,
        "user_agent": (request.user_agent or "")[:400] or None,
        "source_url": (request.source_url or "")[:2000] or None,
        "form": request.form,
    }
