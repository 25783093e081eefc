"""Ops commands for newsletters: create, update, list."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from service import audit
from service.cli.slugs import newsletter_or_fail, slug_for
from service.extensions import db
from service.lists.newsletters import (
    NewsletterExists,
    NewsletterInvalid,
    create_newsletter,
    list_newsletters,
    update_newsletter,
)
from service.models import Newsletter


@click.group("newsletters")
def newsletters() -> None:
    """Manage newsletters."""


_OPTION_FOR_FIELD = {
    "allowed_origins": "--allowed-origin",
    "rate_limit_per_second": "--rate-limit",
    "schedule": "--schedule",
    "translations": "--translation",
    "sections": "--section",
    "tags": "--tag",
    "is_public": "--public/--hidden",
    "archived": "--archive/--unarchive",
}


def _translations(
    given: tuple[str, ...], current: dict[str, dict[str, str]] | None = None
) -> dict[str, dict[str, str]]:
    """`uk:name=Щоденні новини` options merged into `current` (an empty text removes one)."""
    merged = {locale: dict(texts) for locale, texts in (current or {}).items()}
    for item in given:
        target, equals, text = item.partition("=")
        locale, colon, field = target.partition(":")
        if not (equals and colon and locale and field):
            raise click.BadParameter(
                f"{item!r}: write LOCALE:FIELD=TEXT, e.g. 'uk:name=Щоденні новини'.",
                param_hint="--translation",
            )
        merged.setdefault(locale.strip(), {})[field.strip()] = text
    return merged


def _bad_field(exc: NewsletterInvalid, slug: str) -> click.BadParameter:
    """The usage error for a field the service refused, named as the command line spells it."""
    if exc.field == "slug":
        suggestion = slug_for(slug)
        hint = f" (try {suggestion!r})" if suggestion and suggestion != slug else ""
        return click.BadParameter(f"{slug!r}: {exc.message}{hint}", param_hint="'SLUG'")
    field = "translations" if exc.field.startswith("translations") else exc.field
    option = _OPTION_FOR_FIELD.get(field, "--" + field.replace("_", "-"))
    return click.BadParameter(exc.message, param_hint=option)


def _field_options(function):
    """The options `newsletters create` and `newsletters update` share."""
    options = [
        click.option("--schedule", default=None, help="Digest schedule as cron, e.g. '0 7 * * *'."),
        click.option("--description", default=None, help="One-line description for signup forms."),
        click.option(
            "--allowed-origin",
            "allowed_origins",
            multiple=True,
            help="An origin (https://host) whose pages may sign readers up; repeat for several.",
        ),
        click.option(
            "--rate-limit",
            "rate_limit",
            type=float,
            default=None,
            help="Messages per second for this newsletter's sends (wins over SEND_RATE_LIMIT).",
        ),
        click.option(
            "--translation",
            "translations",
            multiple=True,
            metavar="LOCALE:FIELD=TEXT",
            help="The name or description in another language, e.g. "
            "'uk:name=Щоденні новини' or 'uk:description=...'; repeat for several.",
        ),
        click.option(
            "--section",
            "sections",
            multiple=True,
            help="An article section it takes (e.g. Culture); repeat for several. None: all.",
        ),
        click.option(
            "--tag", "tags", multiple=True, help="An article tag it takes; repeat for several."
        ),
        click.option(
            "--feed-url",
            default=None,
            help="Its own RSS/Atom feed, polled: it takes that feed's articles only.",
        ),
        click.option(
            "--public/--hidden",
            "is_public",
            default=None,
            help="Listed on public pages (embed, /subscribe, archive) or hidden from them.",
        ),
        click.option(
            "--late-articles",
            type=click.Choice(["include", "skip"]),
            default=None,
            help="An article published before the last send but stored after it: "
            "the next digest takes it (include, the default) or skips it.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@newsletters.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Display name, e.g. 'Ukraine Daily'.")
@click.option("--timezone", default="Europe/Kyiv", show_default=True, help="IANA time zone.")
@_field_options
@with_appcontext
def newsletters_create(
    slug: str,
    name: str,
    timezone: str,
    schedule: str | None,
    description: str | None,
    allowed_origins: tuple[str, ...],
    rate_limit: float | None,
    translations: tuple[str, ...],
    sections: tuple[str, ...],
    tags: tuple[str, ...],
    feed_url: str | None,
    is_public: bool | None,
    late_articles: str | None,
) -> None:
    """Create the newsletter SLUG (lowercase letters, digits and hyphens, e.g. weekly-news)."""
    chosen = {"is_public": is_public, "late_articles": late_articles}
    fields = {
        "sections": list(sections),
        "tags": list(tags),
        "feed_url": feed_url,
        **{key: value for key, value in chosen.items() if value is not None},
        "name": name,
        "schedule": schedule,
        "timezone": timezone,
        "description": description or "",
        "allowed_origins": list(allowed_origins),
        "rate_limit_per_second": rate_limit,
        "translations": _translations(translations),
    }
    try:
        newsletter = create_newsletter(slug, fields, actor=audit.cli_actor())
    except NewsletterInvalid as exc:
        raise _bad_field(exc, slug) from None
    except NewsletterExists:
        raise click.ClickException(f"newsletter {slug!r} already exists") from None
    click.echo(f"created {newsletter.slug} ({newsletter.name})")


@newsletters.command("update")
@click.argument("slug")
@click.option("--name", default=None, help="Display name.")
@click.option("--timezone", default=None, help="IANA time zone.")
@_field_options
@click.option("--no-rate-limit", is_flag=True, help="Use SEND_RATE_LIMIT again.")
@click.option("--all-sections", is_flag=True, help="Take every section again.")
@click.option("--all-tags", is_flag=True, help="Take every tag again.")
@click.option("--no-feed", is_flag=True, help="Drop its own feed: take the site's articles.")
@click.option(
    "--archive/--unarchive",
    "archived",
    default=None,
    help="Archive: no sends, on no public page, no new signups, readers kept.",
)
@with_appcontext
def newsletters_update(
    slug: str,
    name: str | None,
    timezone: str | None,
    schedule: str | None,
    description: str | None,
    allowed_origins: tuple[str, ...],
    rate_limit: float | None,
    translations: tuple[str, ...],
    sections: tuple[str, ...],
    tags: tuple[str, ...],
    feed_url: str | None,
    is_public: bool | None,
    late_articles: str | None,
    no_rate_limit: bool,
    all_sections: bool,
    all_tags: bool,
    no_feed: bool,
    archived: bool | None,
) -> None:
    """Change the newsletter SLUG: only the options given change."""
    newsletter = newsletter_or_fail(slug, "'SLUG'")
    given = {
        "name": name,
        "timezone": timezone,
        "schedule": schedule,
        "description": description,
        "allowed_origins": list(allowed_origins) or None,
        "rate_limit_per_second": rate_limit,
        "translations": _translations(translations, newsletter.translations)
        if translations
        else None,
        "sections": list(sections) or None,
        "tags": list(tags) or None,
        "feed_url": feed_url,
        "is_public": is_public,
        "late_articles": late_articles,
        "archived": archived,
    }
    fields = {key: value for key, value in given.items() if value is not None}
    cleared = {
        "rate_limit_per_second": (no_rate_limit, None),
        "sections": (all_sections, []),
        "tags": (all_tags, []),
        "feed_url": (no_feed, None),
    }
    fields |= {key: empty for key, (flag, empty) in cleared.items() if flag}
    if not fields:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    try:
        update_newsletter(newsletter, fields, actor=audit.cli_actor())
    except NewsletterInvalid as exc:
        db.session.rollback()
        raise _bad_field(exc, slug) from None
    click.echo(f"updated {newsletter.slug}: {', '.join(sorted(fields))}")


@newsletters.command("list")
@with_appcontext
def newsletters_list() -> None:
    """List newsletters: slug, schedule, time zone, name, allowed origins, what it takes and
    whether it is hidden or archived."""
    items = list_newsletters()
    width = max((len(n.slug) for n in items), default=4)
    for n in items:
        origins = f"  [{' '.join(n.allowed_origins)}]" if n.allowed_origins else ""
        schedule = n.schedule_cron or "-"
        click.echo(
            f"{n.slug:<{width}}  {schedule:<15}  {n.timezone:<15}  {n.name}{origins}{_takes(n)}"
        )


def _takes(newsletter: Newsletter) -> str:
    """'  (archived; feed https://...; sections Culture)': what sets it apart, if anything."""
    filters = newsletter.filters or {}
    notes = [
        "archived" if newsletter.archived else "",
        "hidden" if not newsletter.is_public else "",
        f"feed {newsletter.feed_url}" if newsletter.feed_url else "",
        f"sections {', '.join(filters.get('sections') or [])}" if filters.get("sections") else "",
        f"tags {', '.join(filters.get('tags') or [])}" if filters.get("tags") else "",
        "late articles skipped" if newsletter.late_articles == "skip" else "",
    ]
    notes = [note for note in notes if note]
    return f"  ({'; '.join(notes)})" if notes else ""


COMMANDS = [newsletters]
