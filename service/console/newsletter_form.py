"""The newsletter form's fields as the admin API names them, and the service's own wording
for what is wrong with each, put next to the field it concerns.

The console validates nothing itself: each field goes through `clean_fields` of
service/lists/newsletters.py, the check the API and the CLI use, one at a time so that every
field's problem shows at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app

from service.lists.newsletters import NewsletterInvalid, clean_fields
from service.models import Newsletter

# The form's inputs, in the order they are checked and shown.
INPUTS = (
    "slug",
    "name",
    "description",
    "name_uk",
    "description_uk",
    "schedule",
    "timezone",
    "from",
    "min_new_articles",
    "allowed_origins",
    "rate_limit_per_second",
)
OTHER_LANGUAGE = "uk"


def values_of(newsletter: Newsletter | None) -> dict[str, str]:
    """What the form shows for a stored newsletter (or a new one's defaults)."""
    if newsletter is None:
        return {"timezone": "Europe/Kyiv", "min_new_articles": "1"}
    other = (newsletter.translations or {}).get(OTHER_LANGUAGE, {})
    rate = newsletter.rate_limit_per_second
    return {
        "slug": newsletter.slug,
        "name": newsletter.name,
        "description": newsletter.description or "",
        "name_uk": other.get("name", ""),
        "description_uk": other.get("description", ""),
        "schedule": newsletter.schedule_cron or "",
        "timezone": newsletter.timezone,
        "from": newsletter.from_address or "",
        "min_new_articles": str(newsletter.min_new_articles),
        "allowed_origins": "\n".join(newsletter.allowed_origins or []),
        "rate_limit_per_second": "" if rate is None else f"{rate:g}",
    }


def posted(form: Mapping[str, str]) -> dict[str, str]:
    """The submitted inputs, as typed (shown again when something is wrong)."""
    return {name: form.get(name, "").strip() for name in INPUTS}


def _number(text: str, kind: type) -> Any:
    """A typed number, or the text itself so the service names the problem in its words."""
    try:
        return kind(text)
    except ValueError:
        return text


def api_fields(values: Mapping[str, str]) -> dict[str, Any]:
    """The inputs as the API's fields (the slug aside)."""
    translation = {
        "name": values["name_uk"] or None,
        "description": values["description_uk"] or None,
    }
    rate = values["rate_limit_per_second"]
    return {
        "name": values["name"],
        "description": values["description"],
        "translations": {OTHER_LANGUAGE: translation},
        "schedule": values["schedule"] or None,
        "timezone": values["timezone"],
        "from": values["from"] or None,
        "min_new_articles": _number(values["min_new_articles"], int),
        "allowed_origins": [
            line.strip() for line in values["allowed_origins"].splitlines() if line.strip()
        ],
        "rate_limit_per_second": None if rate == "" else _number(rate, float),
    }


def input_of(field: str) -> str:
    """The form input a service error's `field` concerns (`translations.uk.name`: name_uk)."""
    if field.startswith("translations"):
        return "description_uk" if field.endswith("description") else "name_uk"
    return field


def problems(fields: Mapping[str, Any]) -> dict[str, str]:
    """Each field's problem in the service's wording, keyed by form input; empty when all
    are acceptable."""
    found: dict[str, str] = {}
    for key, value in fields.items():
        try:
            clean_fields({key: value})
        except NewsletterInvalid as exc:
            found.setdefault(input_of(exc.field), exc.message)
    return found


def embed_snippets(slug: str) -> dict[str, str]:
    """The two ways to put the signup box on a page, as README describes them."""
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    return {
        "script": f'<script src="{base}/embed.js" data-newsletters="{slug}" async></script>',
        "iframe": (
            f'<iframe src="{base}/forms/{slug}" title="Newsletter signup" '
            'style="width:100%;border:0"></iframe>'
            f'<script src="{base}/embed/frame.js" async></script>'
        ),
    }
