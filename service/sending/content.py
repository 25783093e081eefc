"""What a send carries: the digest from `service.digests.compose`, rendered once with placeholders.

The unsubscribe and preference URLs are rendered with placeholders drawn for this send
(`personalize.Placeholders`, recorded in the content), which `personalize` replaces by each
reader's tokens at the places the template put them. They are drawn after the content is
fixed and checked absent from all of its text, so no article or newsletter can hold them.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from service.digests.compose import compose_report, render_digest
from service.leaving.links import preferences_url, unsubscribe_url
from service.mail import RenderedEmail
from service.models import Newsletter, Send
from service.sending.personalize import LEGACY, Placeholders


@dataclasses.dataclass(frozen=True)
class FrozenContent:
    """A send's content as stored on its row."""

    rendered: RenderedEmail
    data: dict[str, Any]


def _jsonable(content: object) -> dict[str, Any]:
    if hasattr(content, "as_dict"):
        return content.as_dict()
    if dataclasses.is_dataclass(content) and not isinstance(content, type):
        data = dataclasses.asdict(content)
    elif isinstance(content, dict):
        data = content
    else:
        return {}
    return json.loads(json.dumps(data, default=str))


def compose_content(
    newsletter: Newsletter, *, view_url: str, now: datetime | None = None
) -> tuple[FrozenContent | None, str]:
    """The send's content (None: too few new articles, the send is skipped) and a note on
    the articles left out ("" when none were), or why the send is skipped."""
    content, selection = compose_report(newsletter, now=now)
    note = selection.skipped_text()
    if content is None:
        reason = "fewer new articles than the newsletter's minimum"
        return None, f"{reason}; {note}" if note else reason
    data = _jsonable(content)
    placeholders = Placeholders.drawn(_outside_text(data, newsletter, view_url))
    rendered = render_digest(
        content,
        newsletter=newsletter,
        locale="en",
        unsubscribe_url=unsubscribe_url(placeholders.unsubscribe),
        preferences_url=preferences_url(placeholders.preferences),
        view_url=view_url,
    )
    frozen = FrozenContent(rendered=rendered, data={**data, "placeholders": placeholders.as_dict()})
    return frozen, note


def _outside_text(data: dict[str, Any], newsletter: Newsletter, *more: str) -> str:
    """All the text a digest's rendering takes from articles, feeds and the newsletter."""
    names = json.dumps(newsletter.translations or {}, ensure_ascii=False)
    words = [json.dumps(data, ensure_ascii=False), newsletter.name, newsletter.slug, names, *more]
    return "\n".join(words)


def placeholders_of(send: Send, newsletter: Newsletter) -> Placeholders:
    """Where the send's stored body holds each reader's tokens.

    A send started before per-send placeholders holds the fixed `LEGACY` ones, which anyone
    can type: it is personalized only if nothing in its content holds them too; otherwise
    ValueError (its batches fail with that reason) rather than a reader's links sent to
    wherever an article points."""
    placeholders = Placeholders.stored_in(send.content)
    if placeholders != LEGACY:
        return placeholders
    if LEGACY.found_in(_outside_text(send.content or {}, newsletter, send.subject)):
        raise ValueError(
            f"send {send.id} was rendered with fixed placeholders that its articles or its "
            "newsletter also hold: it cannot be personalized safely; cancel it and start a new one"
        )
    return LEGACY
