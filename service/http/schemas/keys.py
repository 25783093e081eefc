"""API keys and the audit log (both for `admin` keys)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from service.access.keys import NAME_MAX, SCOPES, scopes_of
from service.http.schemas.common import NEXT, Model, Time, fields_of

Scope = Literal[SCOPES]  # type: ignore[valid-type]


class ApiKeyCreate(Model):
    """A new key: its name, and its scopes (default `["admin"]`)."""

    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=r"^[\w.@-]+( [\w.@-]+)*$")
    scopes: list[Scope] = Field(
        ["admin"], min_length=1, description="`write` and `send` include `read`"
    )


class KeyPath(Model):
    """A key named by its name."""

    name: str = Field(min_length=1)


class ApiKey(Model):
    """A key as it is listed: never the key, nor its hash."""

    name: str
    prefix: str = Field(description="the key's first characters")
    scopes: list[Scope]
    created_at: Time
    last_used_at: Time | None = Field(description="recorded at most once a minute per key")

    @classmethod
    def of(cls, api_key: Any) -> ApiKey:
        """The answer for a stored key."""
        return cls.model_validate(fields_of(api_key, cls, scopes=scopes_of(api_key)))


class ApiKeyCreated(ApiKey):
    """A new key, with the key itself: shown only this once."""

    key: str = Field(description="shown only this once")


class ApiKeyList(Model):
    """A page of active keys."""

    api_keys: list[ApiKey]
    next: str | None = Field(description=NEXT)


class Revoked(Model):
    """A key that no longer works."""

    name: str
    status: Literal["revoked"]


class AuditEvent(Model):
    """One operator action: who, what, when, on what."""

    id: int
    at: Time
    event: str = Field(description="e.g. `send.paused`, `api_key.revoked`")
    via: Literal["api", "cli"]
    actor: str = Field(description="the key's name, or the CLI's OS user")
    target: str = Field(description="e.g. `send:12`, `newsletter:daily`")
    detail: dict[str, Any] | None


class AuditLog(Model):
    """A page of operator actions, newest first."""

    events: list[AuditEvent]
    next: str | None = Field(description=NEXT)
