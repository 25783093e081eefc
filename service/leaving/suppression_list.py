"""The suppression list as operators see and change it: keyset pages of entries (never an
address, nor the hash it is kept as), and manual additions and removals with their reason, each
in the audit log in the same transaction as the change."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from service import audit
from service.extensions import db
from service.leaving.suppression import HARD_REASONS, UNSUBSCRIBE_ALL, suppression_hash
from service.models import Suppression

ADDED = audit.event("suppression.added", "an address was put on the suppression list by hand")
REMOVED = audit.event("suppression.removed", "an entry was taken off the suppression list")
REASON_MAX = 32  # the column's width
REASON = re.compile(r"[A-Za-z0-9_.-]{1,32}")
DETAIL_MAX = 1000
WHY_MAX = 500


class SuppressionInvalid(ValueError):
    """A reason or detail that cannot be stored; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NoSuchSuppression(LookupError):
    """No entry with this id (or for this address)."""


def _printable(field: str, value: object, most: int, *, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise SuppressionInvalid(field, f"{field} must be a string.")
    text = value.strip()
    if required and not text:
        raise SuppressionInvalid(field, f"{field} is required.")
    if len(value) > most or not text.isprintable():
        raise SuppressionInvalid(
            field, f"{field} is at most {most} printable characters, without line breaks."
        )
    return text


def check_reason(value: object) -> str:
    """The category of a manual block (`manual`, `spam_trap`...): letters, digits, `_.-`."""
    if not isinstance(value, str) or not REASON.fullmatch(value):
        raise SuppressionInvalid(
            "reason", f"reason is 1 to {REASON_MAX} letters, digits, '_', '.' or '-'."
        )
    return value


def check_why(value: object) -> str:
    """Why an entry is removed (kept in the audit log): required, one line."""
    return _printable("reason", value, WHY_MAX, required=True)


def check_detail(value: object) -> str:
    """An optional note kept with the entry (no personal data)."""
    return _printable("detail", value, DETAIL_MAX, required=False)


def entries_after(after_id: int, limit: int, email_key: str | None = None) -> list[Any]:
    """Up to `limit` entries with id above `after_id`, oldest first (only the one for
    `email_key`, if given: checking an address without revealing the others); rows of plain
    columns (no ORM object per row), with the attributes `describe` reads."""
    query = select(Suppression.id, Suppression.reason, Suppression.detail, Suppression.created_at)
    query = query.where(Suppression.id > after_id)
    if email_key is not None:
        query = query.where(Suppression.email_hash == suppression_hash(email_key))
    return list(db.session.execute(query.order_by(Suppression.id).limit(limit)))


def describe(row: Any) -> dict[str, Any]:
    """An entry as operators see it: no address and no hash (a hash of a guessed address would
    confirm the guess)."""
    return {
        "id": row.id,
        "reason": row.reason,
        "detail": row.detail,
        "hard": row.reason in HARD_REASONS,
        "created_at": row.created_at.isoformat(),
    }


def add_by_hand(
    email_key: str, reason: str, detail: str, actor: audit.Actor | None
) -> tuple[Suppression, bool]:
    """Block an address and commit, with `suppression.added` in the same transaction. An entry
    already there stays (a harder reason replaces `unsubscribe_all`); the flag says whether
    anything changed."""
    reason, detail = check_reason(reason), check_detail(detail)
    digest = suppression_hash(email_key)
    row = db.session.scalar(select(Suppression).where(Suppression.email_hash == digest))
    changed = True
    if row is None:
        row = Suppression(email_hash=digest, reason=reason, detail=detail)
        db.session.add(row)
        db.session.flush()
    elif row.reason == UNSUBSCRIBE_ALL and reason != UNSUBSCRIBE_ALL:
        row.reason, row.detail = reason, detail
    else:
        changed = False
    if changed:
        audit.record(ADDED, actor, f"suppression:{row.id}", reason=reason)
    db.session.commit()
    return row, changed


def find(email_key: str) -> Suppression | None:
    """The entry for an address, if it is suppressed."""
    return db.session.scalar(
        select(Suppression).where(Suppression.email_hash == suppression_hash(email_key))
    )


def remove_by_hand(entry_id: int, why: str, actor: audit.Actor | None) -> Suppression:
    """Lift a block and commit, with `suppression.removed` (its reason and why) in the same
    transaction; NoSuchSuppression if there is no such entry."""
    row = db.session.get(Suppression, entry_id)
    if row is None:  # first: an entry that does not exist is a 404, whatever came with it
        raise NoSuchSuppression(f"No suppression {entry_id}.")
    why = check_why(why)
    audit.record(REMOVED, actor, f"suppression:{row.id}", reason=row.reason, why=why)
    db.session.delete(row)
    db.session.commit()
    return row
