"""`newsletters delete`: remove a newsletter nobody confirmed and nothing was sent from."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from service import audit
from service.cli.slugs import newsletter_or_fail
from service.lists.retire import NewsletterInUse, delete_newsletter


@click.group("newsletters")
def newsletters() -> None:
    """Manage newsletters."""


@newsletters.command("delete")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask first.")
@with_appcontext
def newsletters_delete(slug: str, yes: bool) -> None:
    """Delete the newsletter SLUG, if it has no confirmed reader and no send ever started.

    Otherwise it is refused (exit 1): archive it with `newsletters update SLUG --archive`
    (no sends, on no public page, readers and past issues kept).
    """
    newsletter = newsletter_or_fail(slug, "'SLUG'")
    if not yes:
        click.confirm(f"delete newsletter {slug} ({newsletter.name})?", abort=True)
    try:
        delete_newsletter(newsletter, actor=audit.cli_actor())
    except NewsletterInUse as exc:
        raise click.ClickException(
            f"not deleted: {exc.readers} confirmed reader(s) and {exc.sends} send(s) that "
            f"started; archive it instead: `newsletter newsletters update {slug} --archive`"
        ) from None
    click.echo(f"deleted {slug}")


COMMANDS = [newsletters]
