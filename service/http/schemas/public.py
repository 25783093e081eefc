"""The public side of the API: the signup, the API's index and the health probes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from service.http.schemas.articles import Locale
from service.http.schemas.common import Model

NAME_MAX = 200  # a reader's name is cut to this
TRUE_WORDS = ("true", "1", "on", "yes")  # how a plain form says yes
FALSE_WORDS = ("", "false", "0", "off", "no")


def _folded(value: Any) -> Any:
    """A form's yes or no as typed (` On `, `YES`): the word it is."""
    return value.strip().lower() if isinstance(value, str) else value


FormFlag = Annotated[Literal[(*TRUE_WORDS, *FALSE_WORDS)], BeforeValidator(_folded)]  # type: ignore[valid-type]


class SignupRequest(Model):
    """A signup (JSON or a plain form). Checked after the bot traps: a request a trap catches
    (honeypot, too fast) gets the same 202 whatever it carries."""

    model_config = {"extra": "allow"}
    error_codes = {"email": "invalid_email"}
    email: str | None = Field(None, description="needed: 422 `required` without it")
    form: str | None = Field(None, description="which hosted form sent it")
    newsletters: str | list[str] | None = Field(None, description="slugs, or a comma list")
    name: str | None = Field(None, description=f"cut to {NAME_MAX} characters")
    locale: Locale | None = Field(
        None, description="absent or empty: from `Accept-Language`; no catalogue: 422"
    )
    source_url: str | None = None
    website: str | None = Field(None, description="honeypot: must be empty")
    confirm_address: bool | FormFlag | None = Field(
        None, description="the reader insists on an address a fix was suggested for"
    )
    form_stamp: str | None = Field(None, description="signed render time from a hosted form")
    elapsed_ms: float | str | None = Field(None, description="ms since the embed drew the box")


class SignupAccepted(Model):
    """The confirmation email is on its way (or a bot was quietly dropped)."""

    status: Literal["pending"]
    code: Literal["confirmation_sent"]
    message: str


class Link(Model):
    """One collection of the API."""

    href: str
    auth: str
    description: str


class ApiIndex(Model):
    """Where the OpenAPI document, the docs and the main collections are."""

    service: str
    version: str
    openapi: str
    docs: str
    authentication: str
    links: dict[str, Link]


class Alive(Model):
    """The process is up."""

    status: Literal["ok"]


class Ready(Model):
    """Each dependency's check (`ok`, `warning` or `error`); 503 if any is an error."""

    status: Literal["ok", "warning", "unavailable"]
    checks: dict[str, dict[str, Any]]
