"""Mail that anyone can make us send (a confirmation, a manage link) is limited per reader.

A stranger who knows an address can ask for mail to it: by signing it up, by asking for its
manage link, by adding a newsletter on a preference page. Each kind goes to one reader (one
`email_key`, the normalised address, whatever spelling was typed) at most once per
`CONFIRMATION_RESEND_SECONDS`. The check and the claim are one conditional UPDATE of that
reader's row, so concurrent requests in any number of processes send one email. The answer a
request gets never says whether a mail went out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import or_, update

from service.models import Subscriber

# The kinds of reader-triggered mail, each with the column that remembers its last sending.
CONFIRMATION = "last_confirmation_sent_at"
MANAGE_LINK = "last_manage_link_sent_at"


class Executes(Protocol):
    """A Connection or a Session: what runs the claim."""

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any: ...


def cooldown() -> timedelta:
    """How long after one such email the next of the same kind to the same reader waits."""
    return timedelta(seconds=current_app.config["CONFIRMATION_RESEND_SECONDS"])


def claim(db: Executes, subscriber_id: int, kind: str, now: datetime) -> bool:
    """Claim the reader's next email of `kind` if the cooldown is over; True if claimed.

    Run it in the transaction that queues the email, so a rollback gives the claim back.
    """
    column = getattr(Subscriber, kind)
    result = db.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id, or_(column.is_(None), column < now - cooldown()))
        .values({kind: now})
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release(db: Executes, subscriber_id: int, kind: str, claimed_at: datetime) -> None:
    """Give back a claim whose email could not be sent (unless a later claim replaced it)."""
    column = getattr(Subscriber, kind)
    db.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id, column == claimed_at)
        .values({kind: None})
        .execution_options(synchronize_session=False)
    )
