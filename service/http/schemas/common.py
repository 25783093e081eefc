"""Shapes every collection shares: the error answer, paging, times and path parameters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from service.http import input_guard
from service.paging import DEFAULT_LIMIT, MAX_LIMIT

# A time as the API has always written it: `datetime.isoformat()` (offset `+00:00`).
Time = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str, when_used="json"),
]
Id = Annotated[int, Field(ge=0, le=input_guard.MAX_ID)]
NEXT = "cursor of the next page; null on the last"


class Model(BaseModel):
    """Base of every model: field names as the API spells them (`from`), extra input ignored."""

    model_config = ConfigDict(populate_by_name=True, from_attributes=True)
    error_codes: ClassVar[dict[str, str]] = {}  # field -> error code besides `invalid`


class Error(Model):
    """Every error answer: `status` "error", a `code`, a `message`, and the `field` it is about
    when there is one; some codes add their own keys (`available`, `suggestion`, `scope`...)."""

    model_config = ConfigDict(extra="allow")
    status: Literal["error"]
    code: str
    message: str
    field: str | None = None
    suggestion: str | None = None
    available: list[str] | None = Field(
        None, description="with `unknown_locale`: the locales there are"
    )


class PageQuery(Model):
    """Paging of every list: `limit` and the `cursor` of the previous answer's `next`."""

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="rows on this page")
    cursor: str | None = Field(
        None, description="`next` of the previous page (422 `invalid` for any other string)"
    )


class SlugPath(Model):
    """A newsletter named by its slug."""

    slug: str = Field(min_length=1)


class Done(Model):
    """An object that was removed, revoked or erased."""

    id: int
    status: str


def fields_of(obj: Any, model: type[BaseModel], skip: tuple[str, ...] = (), **given: Any) -> dict:
    """The values of `model`'s fields read from a stored object (`given` ones win), leaving
    out `skip`: what `Model.of` validates."""
    names = [name for name in model.model_fields if name not in skip]
    return {name: given[name] if name in given else getattr(obj, name, None) for name in names}
