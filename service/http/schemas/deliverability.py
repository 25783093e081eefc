"""Bounces and complaints: a send's and a newsletter's figures, and the provider hooks' answer."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from service.http.schemas.common import Model
from service.http.schemas.sends import Send
from service.sending import summary


class Rates(Model):
    """Each figure over the messages handed over (`sent` + `failed`); `complained` and
    `unsubscribed` over those sent."""

    delivered: float
    bounced_hard: float
    bounced_soft: float
    refused_policy: float
    complained: float
    unsubscribed: float


class Figures(Model):
    """What came back: each reader counted once per send."""

    delivered: int = Field(description="accepted by the relay and not bounced since")
    bounced_hard: int = Field(description="readers whose address bounced for good (5.1.x)")
    bounced_soft: int = Field(description="readers with a temporary bounce (4.x.x, 5.2.2)")
    refused_policy: int = Field(description="refusals about the sender (5.7.x)")
    complained: int = Field(description="readers who reported the message as spam")
    unsubscribed: int = Field(description="readers who left the newsletter after it")
    rates: Rates


class SendDetail(Send, Figures):
    """One send: its status, counters and times, and what came back about it."""

    paused_reason: str | None = Field(
        description="why a paused send is paused (`brakes: ...` when it paused itself)"
    )
    warning: str | None = Field(description="the complaint rate is above the warning level")

    @classmethod
    def of(cls, send: Any) -> SendDetail:  # type: ignore[override]
        """The answer for a stored send, with its deliverability read now."""
        plain = Send.of(send).model_dump()
        return cls.model_validate(plain | summary.deliverability(send))


class ReportQuery(Model):
    """The sends a report covers: those that started in [`from`, `to`)."""

    from_: str | None = Field(None, alias="from", description="ISO 8601 date or time (UTC)")
    to: str | None = Field(None, description="ISO 8601 date or time (UTC)")


class NewsletterReport(Figures):
    """A newsletter's figures over its sends."""

    newsletter: str
    sends: int
    sent: int
    failed: int


class ProviderHookAnswer(Model):
    """A provider's post was taken."""

    received: int | None = Field(None, description="bounces and complaints in the post")
    recorded: int | None = Field(None, description="of those, new to the service")
    confirmed: bool | None = Field(None, description="SES: the SNS subscription confirmed")
