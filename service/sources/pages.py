"""Which page a signup came from, as the figures name it: the form's `source_url` cut to its
scheme, host and path, or one of two fixed words.

- A URL on an origin the newsletter allows (its own `allowed_origins`, the service's
  `ALLOWED_ORIGINS` unless that is `*`, and `PUBLIC_URL`'s origin) is named by its page:
  `https://news.example.org/culture/article-1`. The origin is written as browsers write it
  (lower-case host, punycode, no default port, `service.web_origins`); the query string and
  the fragment are dropped (they carry tracking ids, and sometimes a reader's token); an
  empty path is `/`; the rest is cut to `PAGE_MAX` characters.
- Anything else a client sent (another origin, not http(s), user info, spaces or control
  characters, a URL too long to be a page) is `other`: the source URL is whatever a client
  posts, so only origins the newsletter chose can add names, and `service.sources.tally`
  bounds how many names one day of one newsletter takes.
- A signup without a page (an API client, a form without a Referer) is `direct`.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from urllib.parse import urlsplit

from service.models.source_day import PAGE_MAX
from service.web_origins import normalize_origin, page_origin

DIRECT = "direct"  # no page was sent
OTHER = "other"  # a page not on an origin the newsletter allows, or not a page at all
KINDS = ("page", OTHER, DIRECT)
SOURCE_URL_MAX = 2000  # what a consent record keeps of a source URL


def kind_of(page: str) -> str:
    """`page` for a named page, else the word itself (`other`, `direct`)."""
    return page if page in (OTHER, DIRECT) else "page"


def own_origins(allowed_origins: Iterable[str], public_url: str) -> frozenset[str]:
    """The origins every newsletter's pages are named on: the service's `ALLOWED_ORIGINS` (a
    `*` names none: it allows every origin, so it cannot bound anything) and `PUBLIC_URL`'s."""
    origins = {origin for origin in allowed_origins if origin != "*"}
    public = urlsplit(public_url)
    with suppress(ValueError):  # the start refuses such a PUBLIC_URL; nothing to name then
        origins.add(normalize_origin(f"{public.scheme}://{public.netloc}"))
    return frozenset(origins)


def page_of(source_url: object, origins: frozenset[str]) -> str:
    """The page a signup's `source_url` counts under, for a newsletter whose pages are named on
    `origins` (`own_origins` plus its own allowlist): a normalised URL, `other` or `direct`."""
    if source_url is None or (isinstance(source_url, str) and not source_url.strip()):
        return DIRECT
    if not isinstance(source_url, str) or len(source_url) > SOURCE_URL_MAX:
        return OTHER
    url = source_url.strip()
    found = page_origin(url)
    if found is None:
        return OTHER
    origin, parts = found
    if origin not in origins:
        return OTHER
    return _cut(origin + (parts.path or "/"))


def _cut(page: str) -> str:
    """`page` within `PAGE_MAX` characters, never ending in half a `%XX` escape."""
    if len(page) <= PAGE_MAX:
        return page
    cut = page[:PAGE_MAX]
    escape = cut.rfind("%", len(cut) - 2)
    return cut[:escape] if escape != -1 else cut
