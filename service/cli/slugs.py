"""Newsletter slugs as the CLI takes them: a typo gets "did you mean ...?", a name its slug."""

from __future__ import annotations

import difflib
import re
import unicodedata

import click

from service.lists.newsletters import SLUG_PATTERN, get_newsletter, list_newsletters
from service.models import Newsletter

LIST_HINT = "`newsletter newsletters list` shows them all"


def newsletter_or_fail(slug: str, param_hint: str) -> Newsletter:
    """The newsletter `slug`, or a usage error naming the closest slugs and the list command."""
    newsletter = get_newsletter(slug)
    if newsletter is not None:
        return newsletter
    known = [n.slug for n in list_newsletters()]
    close = difflib.get_close_matches(slug.lower(), known, n=3, cutoff=0.6)
    if close:
        hint = f"did you mean {' or '.join(close)}? ({LIST_HINT})"
    elif known:
        hint = LIST_HINT
    else:
        hint = "there are no newsletters yet: create one with `newsletter newsletters create`"
    raise click.BadParameter(f"no newsletter {slug!r}; {hint}", param_hint=param_hint)


def slug_for(text: str) -> str | None:
    """A valid slug made from a name (`Weekly News!` -> `weekly-news`), or None if none can be."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:64].strip("-")
    return slug if slug and SLUG_PATTERN.match(slug) else None
