"""Content commands: `articles import-feed`, `digest preview` and `digest test`."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from service.addresses import InvalidEmail
from service.cli.slugs import newsletter_or_fail
from service.digests.compose import (
    NothingToSend,
    compose_report,
    render_sample,
    send_test_digest,
    test_content,
)
from service.digests.feeds import FeedError, import_feed
from service.i18n import LOCALES, UnknownLocale, checked_locale


@click.group("articles")
def articles() -> None:
    """Articles: import from feeds."""


@articles.command("import-feed")
@click.argument("source")
@with_appcontext
def import_feed_command(source: str) -> None:
    """Import the entries of an RSS 2.0 or Atom feed (URL or file); bad items are reported."""
    try:
        result = import_feed(source)
    except FeedError as exc:
        raise click.ClickException(str(exc)) from exc
    for item in result.items:
        if item.status == "error":
            # Counted from 1, as a person counts the items of a feed.
            click.echo(f"item {item.index + 1}: skipped ({item.field}: {item.error})", err=True)
    click.echo(result.summary())


LOCALE_HELP = f"Language of the digest: {', '.join(LOCALES)}."


def _locale(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A `--locale` with a catalogue (`uk-UA` is `uk`); a usage error naming them otherwise."""
    try:
        return checked_locale(value)
    except UnknownLocale as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


@click.group("digest")
def digest() -> None:
    """Digests: preview what a newsletter would send."""


@digest.command("preview")
@click.argument("slug")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--locale", default="en", show_default=True, callback=_locale, help=LOCALE_HELP)
@click.option("--text", "as_text", is_flag=True, help="Print the plain-text part instead.")
@with_appcontext
def preview(slug: str, out: Path | None, locale: str, as_text: bool) -> None:
    """Render the digest SLUG would send now (HTML to --out, or to stdout)."""
    newsletter = newsletter_or_fail(slug, "SLUG")
    content, selection = compose_report(newsletter)
    note = selection.skipped_text()
    if note:  # on stderr: stdout may be the digest itself
        click.echo(note, err=True)
    if content is None:
        click.echo(
            f"skipped: fewer than {max(newsletter.min_new_articles, 1)} new article(s) "
            f"for {slug}; nobody would be mailed"
        )
        return
    rendered = render_sample(content, newsletter, locale)
    body = rendered.text if as_text else rendered.html
    if out is None:
        click.echo(body)
        return
    out.write_text(body, encoding="utf-8")
    click.echo(
        f"{rendered.subject}\n{len(content.article_ids)} articles, "
        f"{len(body.encode()) / 1024:.1f} KB -> {out}"
    )


@digest.command("test")
@click.argument("slug")
@click.argument("email")
@click.option("--locale", default="en", show_default=True, callback=_locale, help=LOCALE_HELP)
@with_appcontext
def test_send(slug: str, email: str, locale: str) -> None:
    """Mail a test of the digest SLUG would send now to EMAIL (subject marked [TEST]).

    With no new articles since the last issue, the test is a copy of that last issue.
    """
    newsletter = newsletter_or_fail(slug, "SLUG")
    try:
        answer = send_test_digest(newsletter.id, email, locale=locale)
    except NothingToSend:
        raise click.ClickException(
            f"nothing to test: {slug} has no new articles and no issue sent yet; "
            "add articles (`newsletter articles import-feed URL`) first"
        ) from None
    except InvalidEmail as exc:
        raise click.ClickException(f"{email}: not a deliverable address ({exc})") from exc
    test = test_content(newsletter)
    which = test.label if test else "the digest"
    click.echo(f"test digest sent to {email} ({which}): {answer}")


COMMANDS = [articles, digest]
