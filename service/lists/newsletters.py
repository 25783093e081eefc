"""Newsletters as ops manage them: create, list and update, with every field validated.

Plain functions on the database session, shared by the admin API and the CLI. Invalid input
raises `NewsletterInvalid` naming the field, so both callers can point at what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import select

from service import audit
from service.addresses import InvalidEmail, parse_address
from service.extensions import db
from service.i18n import DEFAULT_LOCALE, LOCALES
from service.lists import newsletter_index
from service.models import Newsletter
from service.web_origins import normalize_origin

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# API field name -> model attribute; the API speaks `schedule` and `from`, the model is explicit.
FIELDS = {
    "name": "name",
    "description": "description",
    "schedule": "schedule_cron",
    "timezone": "timezone",
    "from": "from_address",
    "min_new_articles": "min_new_articles",
    "allowed_origins": "allowed_origins",
    "rate_limit_per_second": "rate_limit_per_second",
    "translations": "translations",
    "sections": "filters.sections",
    "tags": "filters.tags",
    "feed_url": "feed_url",
    "is_public": "is_public",
    "archived": "archived",
    "late_articles": "late_articles",
}
MAX_ORIGINS = 50
MAX_TERMS = 50  # sections or tags a newsletter takes
LATE_CHOICES = ("include", "skip")
NEWSLETTER_CREATED = audit.event("newsletter.created", "an operator created a newsletter")
NEWSLETTER_CHANGED = audit.event("newsletter.changed", "an operator changed a newsletter")
# Cron schedules are the classic five fields (minute hour day month weekday). croniter also
# reads six (seconds last) and seven (years), so "0 0 7 * * *" would run at 00:00 on the 7th.
CRON_FIELDS = 5
CRON_EXAMPLE = "'0 7 * * *' (minute hour day month weekday: 07:00 every day)"
MAX_RATE = 100_000
# A translation has the same limits as the English text it translates.
TRANSLATED = {"name": 200, "description": 10000}


class NewsletterInvalid(ValueError):
    """A field is missing or unacceptable; `field` names it, `code` says why."""

    def __init__(self, field: str, code: str, message: str):
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


class NewsletterExists(ValueError):
    """A newsletter with this slug already exists."""


def list_newsletters() -> list[Newsletter]:
    """Every newsletter, oldest first."""
    return list(db.session.scalars(select(Newsletter).order_by(Newsletter.id)))


def get_newsletter(slug: str) -> Newsletter | None:
    """The newsletter with `slug`, or None."""
    return db.session.scalar(select(Newsletter).where(Newsletter.slug == slug))


def create_newsletter(
    slug: Any, fields: Mapping[str, Any], *, actor: audit.Actor | None = None
) -> Newsletter:
    """Create and commit a newsletter (logged as `actor`'s); raise NewsletterInvalid or
    NewsletterExists."""
    if not isinstance(slug, str) or not SLUG_PATTERN.match(slug):
        raise NewsletterInvalid(
            "slug", "invalid_slug", "Use 1-64 lowercase letters, digits and inner hyphens."
        )
    if "name" not in fields or fields["name"] in (None, ""):
        raise NewsletterInvalid("name", "required", "A newsletter needs a name.")
    values = clean_fields(fields)
    if get_newsletter(slug) is not None:
        raise NewsletterExists(slug)
    newsletter = Newsletter(slug=slug, filters={})
    _apply(newsletter, values)
    db.session.add(newsletter)
    audit.record(NEWSLETTER_CREATED, actor, f"newsletter:{slug}", fields=sorted(fields))
    db.session.commit()
    newsletter_index.forget()
    return newsletter


def update_newsletter(
    newsletter: Newsletter, fields: Mapping[str, Any], *, actor: audit.Actor | None = None
) -> Newsletter:
    """Apply the given fields (others unchanged) and commit, logged as `actor`'s with the
    fields' names; raise NewsletterInvalid."""
    _apply(newsletter, clean_fields(fields))
    audit.record(NEWSLETTER_CHANGED, actor, f"newsletter:{newsletter.slug}", fields=sorted(fields))
    db.session.commit()
    newsletter_index.forget()
    return newsletter


def _apply(newsletter: Newsletter, values: Mapping[str, Any]) -> None:
    """Set cleaned values; `filters.sections` and `filters.tags` go into `filters` (empty: all)."""
    filters = dict(newsletter.filters or {})
    for attribute, value in values.items():
        if attribute.startswith("filters."):
            filters[attribute.removeprefix("filters.")] = value
        else:
            setattr(newsletter, attribute, value)
    newsletter.filters = {key: value for key, value in filters.items() if value}


def clean_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate API-named fields and return them as model attributes; unknown fields are errors."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise NewsletterInvalid(unknown[0], "unknown_field", f"Unknown field {unknown[0]!r}.")
    values: dict[str, Any] = {}
    for key, value in fields.items():
        values[FIELDS[key]] = _CLEANERS[key](value)
    return values


def _text(field: str, limit: int, *, required: bool) -> Any:
    def clean(value: Any) -> str | None:
        if value is None and not required:
            return "" if field == "description" else None
        if not isinstance(value, str) or (required and not value.strip()):
            raise NewsletterInvalid(field, "invalid", f"{field} must be a non-empty string.")
        if len(value) > limit:
            raise NewsletterInvalid(field, "too_long", f"{field} is longer than {limit}.")
        return value.strip()

    return clean


def valid_cron(cron: str) -> bool:
    """True for a five-field cron expression that croniter understands ('0 7 * * 1-5')."""
    return len(cron.split()) == CRON_FIELDS and croniter.is_valid(cron)


def _schedule(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise NewsletterInvalid(
            "schedule", "invalid_cron", f"schedule must be like {CRON_EXAMPLE}."
        )
    fields = len(value.split())
    if fields != CRON_FIELDS:
        raise NewsletterInvalid(
            "schedule",
            "invalid_cron",
            f"schedule has {fields} fields; it needs {CRON_FIELDS}, like {CRON_EXAMPLE}"
            + (" (seconds are not supported)." if fields in (6, 7) else "."),
        )
    if not valid_cron(value):
        raise NewsletterInvalid(
            "schedule",
            "invalid_cron",
            f"{value.strip()!r} is not a cron expression like {CRON_EXAMPLE}.",
        )
    return " ".join(value.split())


def _timezone(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise NewsletterInvalid("timezone", "invalid_timezone", "timezone must be an IANA name.")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise NewsletterInvalid(
            "timezone", "invalid_timezone", f"Unknown time zone {value!r} (e.g. 'Europe/Kyiv')."
        ) from None
    return value


def _from(value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        return parse_address(value).display
    except InvalidEmail:
        raise NewsletterInvalid(
            "from", "invalid_email", "from must be an acceptable email address."
        ) from None


def _min_new_articles(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
        raise NewsletterInvalid(
            "min_new_articles", "invalid", "min_new_articles must be an integer from 0 to 1000."
        )
    return value


def _allowed_origins(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [item for item in value.split(",") if item.strip()]
    if not isinstance(value, list) or len(value) > MAX_ORIGINS:
        raise NewsletterInvalid(
            "allowed_origins",
            "invalid",
            f"allowed_origins must be a list of at most {MAX_ORIGINS} origins.",
        )
    try:
        return list(dict.fromkeys(normalize_origin(item) for item in value))
    except ValueError as exc:
        raise NewsletterInvalid("allowed_origins", "invalid_origin", str(exc)) from None


def _rate_limit(value: Any) -> float | None:
    """Messages per second for this newsletter's sends (wins over SEND_RATE_LIMIT); null: none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_RATE:
        raise NewsletterInvalid(
            "rate_limit_per_second",
            "invalid",
            f"rate_limit_per_second must be a number above 0 and at most {MAX_RATE:,}, or null.",
        )
    return float(value)


def _translations(value: Any) -> dict[str, dict[str, str]]:
    """{"uk": {"name": ..., "description": ...}}: other languages' texts, replacing all before."""
    if value is None:
        return {}
    others = [locale for locale in LOCALES if locale != DEFAULT_LOCALE]
    if not isinstance(value, dict):
        raise NewsletterInvalid(
            "translations",
            "invalid",
            'translations must be an object like {"uk": {"name": "...", "description": "..."}}.',
        )
    cleaned: dict[str, dict[str, str]] = {}
    for locale, texts in value.items():
        field = f"translations.{locale}"
        if locale not in others:
            raise NewsletterInvalid(
                field,
                "unknown_locale",
                f"Unknown locale {locale!r}: translations can be in {', '.join(others)} "
                "(English is the name and description themselves).",
            )
        if not isinstance(texts, dict) or not set(texts) <= set(TRANSLATED):
            raise NewsletterInvalid(
                field, "invalid", f"{field} must be an object with name and/or description."
            )
        entry = {}
        for key, text in texts.items():
            if text is None:
                continue
            if not isinstance(text, str):
                raise NewsletterInvalid(
                    f"{field}.{key}", "invalid", f"{field}.{key} must be a string."
                )
            if len(text) > TRANSLATED[key]:
                raise NewsletterInvalid(
                    f"{field}.{key}", "too_long", f"{field}.{key} is longer than {TRANSLATED[key]}."
                )
            if text.strip():
                entry[key] = text.strip()
        if entry:
            cleaned[locale] = entry
    return cleaned


def _terms(field: str) -> Any:
    def clean(value: Any) -> list[str]:
        """The article sections (or tags) a newsletter takes; none (null, []): every one."""
        items = [] if value is None else value.split(",") if isinstance(value, str) else value
        if (
            not isinstance(items, list)
            or len(items) > MAX_TERMS
            or not all(isinstance(item, str) and len(item) <= 100 for item in items)
        ):
            raise NewsletterInvalid(
                field, "invalid", f"{field}: a list of at most {MAX_TERMS} names (100 chars each)."
            )
        return list(dict.fromkeys(item.strip() for item in items if item.strip()))

    return clean


def _feed_url(value: Any) -> str | None:
    """The newsletter's own RSS/Atom feed (an http(s) URL); null or "" takes the site's."""
    if value is None or value == "":
        return None
    try:
        parts = urlsplit(value) if isinstance(value, str) and len(value) <= 2000 else None
    except ValueError:
        parts = None
    printable = parts and all(char.isprintable() and not char.isspace() for char in value)
    if not printable or parts.scheme not in ("http", "https") or not parts.hostname:
        raise NewsletterInvalid(
            "feed_url", "invalid_url", "feed_url must be an http(s) URL of an RSS or Atom feed."
        )
    return value


def _one_of(field: str, choices: tuple[Any, ...], wording: str) -> Any:
    def clean(value: Any) -> Any:
        if type(value) is not type(choices[0]) or value not in choices:
            raise NewsletterInvalid(field, "invalid", f"{field} must be {wording}.")
        return value

    return clean


_CLEANERS = {
    "name": _text("name", 200, required=True),
    "description": _text("description", 10000, required=False),
    "schedule": _schedule,
    "timezone": _timezone,
    "from": _from,
    "min_new_articles": _min_new_articles,
    "allowed_origins": _allowed_origins,
    "rate_limit_per_second": _rate_limit,
    "translations": _translations,
    "sections": _terms("sections"),
    "tags": _terms("tags"),
    "feed_url": _feed_url,
    "is_public": _one_of("is_public", (True, False), "true or false"),
    "archived": _one_of("archived", (True, False), "true or false"),
    "late_articles": _one_of("late_articles", LATE_CHOICES, "'include' or 'skip'"),
}
