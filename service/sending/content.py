"""What a send carries: the digest from `service.digests`, rendered once with placeholders.

The unsubscribe and preference URLs are rendered with placeholder tokens that
`personalize` fills in per recipient.
"""

from __future__ import annotations

import dataclasses
import html
import json
from datetime import datetime
from typing import Any

from flask import current_app

from service.mail import RenderedEmail
from service.models import Newsletter
from service.sending.personalize import NAME, PREFS_TOKEN, UNSUB_TOKEN

try:
    from service.digests import compose, render_digest
except ImportError:  # FALLBACK until service/digests.py lands: delete this branch then.
    compose = None
    render_digest = None


@dataclasses.dataclass(frozen=True)
class FrozenContent:
    """A send's content as stored on its row."""

    rendered: RenderedEmail
    data: dict[str, Any]


def unsubscribe_url(token: str = UNSUB_TOKEN) -> str:
    """The one-click unsubscribe URL for `token` (the placeholder by default)."""
    return f"{current_app.config['PUBLIC_URL']}/unsubscribe/{token}"


def preferences_url(token: str = PREFS_TOKEN) -> str:
    """The preference page URL for `token` (the placeholder by default)."""
    return f"{current_app.config['PUBLIC_URL']}/preferences/{token}"


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


def _fallback(newsletter: Newsletter) -> RenderedEmail:
    """FALLBACK (no service/digests.py yet): a minimal newsletter email. Delete with it."""
    unsub = unsubscribe_url()
    name = html.escape(newsletter.name)
    return RenderedEmail(
        subject=newsletter.name,
        text=f"Hello {NAME},\n\n{newsletter.name}\n\nUnsubscribe: {unsub}\n",
        html=(f'<p>Hello {NAME},</p><h1>{name}</h1><p><a href="{unsub}">Unsubscribe</a></p>'),
    )


def compose_content(
    newsletter: Newsletter, *, view_url: str, now: datetime | None = None
) -> FrozenContent | None:
    """The send's content, or None when there are too few new articles (send is skipped)."""
    if compose is None or render_digest is None:
        return FrozenContent(rendered=_fallback(newsletter), data={})
    content = compose(newsletter, now=now)
    if content is None:
        return None
    rendered = render_digest(
        content,
        newsletter=newsletter,
        locale="en",
        unsubscribe_url=unsubscribe_url(),
        preferences_url=preferences_url(),
        view_url=view_url,
    )
    return FrozenContent(rendered=rendered, data=_jsonable(content))
