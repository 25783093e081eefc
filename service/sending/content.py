"""What a send carries: the digest from `service.digests.compose`, rendered once with placeholders.

The unsubscribe and preference URLs are rendered with placeholder tokens that
`personalize` fills in per recipient.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from service.digests.compose import compose, render_digest
from service.leaving.links import preferences_url, unsubscribe_url
from service.mail import RenderedEmail
from service.models import Newsletter
from service.sending.personalize import PREFS_TOKEN, UNSUB_TOKEN


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
) -> FrozenContent | None:
    """The send's content, or None when there are too few new articles (send is skipped)."""
    content = compose(newsletter, now=now)
    if content is None:
        return None
    rendered = render_digest(
        content,
        newsletter=newsletter,
        locale="en",
        unsubscribe_url=unsubscribe_url(UNSUB_TOKEN),
        preferences_url=preferences_url(PREFS_TOKEN),
        view_url=view_url,
    )
    return FrozenContent(rendered=rendered, data=_jsonable(content))
