"""The suppression list: entries (never an address), and blocks added or lifted by hand."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from service.http.schemas.common import NEXT, Id, Model, PageQuery, Time, fields_of
from service.leaving.suppression import HARD_REASONS
from service.leaving.suppression_list import DETAIL_MAX, REASON, WHY_MAX
from service.lists.browse import ADDRESS_MAX


class SuppressionQuery(PageQuery):
    """A page of entries, or one address's entry."""

    error_codes = {"email": "invalid_email"}
    email: str | None = Field(
        None,
        min_length=1,
        max_length=ADDRESS_MAX,
        description="only this address's entry (how to check one address)",
    )


class SuppressionCreate(Model):
    """An address to block, and why."""

    error_codes = {"email": "invalid_email"}
    email: str = Field(min_length=1, max_length=ADDRESS_MAX)
    reason: str = Field(
        pattern="^" + REASON.pattern + "$",
        description="`manual`, or a category of your own: letters, digits, `_.-`",
    )
    detail: str | None = Field(None, max_length=DETAIL_MAX, description="a note, no personal data")


class EntryPath(Model):
    """An entry named by its id."""

    entry_id: Id


class LiftQuery(Model):
    """Why a block is lifted (kept in the audit log); also taken from a JSON body."""

    reason: str | None = Field(None, min_length=1, max_length=WHY_MAX)


class Suppression(Model):
    """An entry of the suppression list; the address is kept only as a hash, never shown."""

    id: int
    reason: str = Field(description="`manual`, `bounce`, `hard_bounce`, `complaint`, ...")
    detail: str
    hard: bool = Field(description="true: not even mail the reader asks for reaches it")
    created_at: Time

    @classmethod
    def of(cls, row: Any) -> Suppression:
        """The answer for a stored entry."""
        return cls.model_validate(fields_of(row, cls, hard=row.reason in HARD_REASONS))


class SuppressionList(Model):
    """A page of entries, oldest first."""

    suppressions: list[Suppression]
    next: str | None = Field(description=NEXT)


class Lifted(Model):
    """A block that was lifted."""

    id: int
    status: Literal["removed"]
