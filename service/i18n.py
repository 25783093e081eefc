"""Reader-facing language: which locale a reader gets, and the gettext catalogues behind it.

Texts are written in English where they are used (`_("Successfully subscribed")` in code,
`{{ _("...") }}` in templates) and translated in `translations/<locale>/LC_MESSAGES/messages.po`,
which `make messages` keeps in step with the code. A language is supported when it has a
catalogue there, so a third language is a new `.po` file. The compiled `.mo` files are made
from the `.po` files when the app starts (or by `make`), never committed.

A page is in the locale the reader asked for (`locale` field or parameter), else the best of
`Accept-Language`, else English. A locale asked for by name (a body, a query string, a CLI
option) must have a catalogue: `checked_locale` refuses any other, naming the ones there are.
Mail is rendered by workers outside any request, so the renderer forces the reader's stored
locale (`flask_babel.force_locale`).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from flask import Flask, has_request_context, request
from flask_babel import Babel, gettext, ngettext

from service.config import ROOT, ConfigError

TRANSLATIONS = ROOT / "translations"
DEFAULT_LOCALE = "en"
# English is the source language; every other locale is a catalogue in translations/.
LOCALES = (
    DEFAULT_LOCALE,
    *sorted(p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")),
)


def normalize_locale(value: object) -> str | None:
    """Return a supported locale for a value like `uk-UA` or `EN`, or None if unsupported."""
    if not isinstance(value, str):
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    if primary == "ua":
        primary = "uk"
    return primary if primary in LOCALES else None


class UnknownLocale(ValueError):
    """A locale that has no catalogue; the message names the ones there are."""

    def __init__(self, value: object) -> None:
        self.value = value
        shown = value if isinstance(value, str) else type(value).__name__
        super().__init__(
            f"unknown locale {shown[:40]!r}: use one of {', '.join(LOCALES)}"
            if isinstance(value, str)
            else f"a locale is a string ({shown} given): use one of {', '.join(LOCALES)}"
        )


def checked_locale(value: object) -> str:
    """The supported locale `value` names (`uk-UA` and `UK` are `uk`); `UnknownLocale` for
    anything else, so a language someone asks for by name is never silently swapped."""
    locale = normalize_locale(value)
    if locale is None:
        raise UnknownLocale(value)
    return locale


def pick_locale(requested: object, accept_languages: Iterable[str] = ()) -> str:
    """The explicit `requested` locale if supported, else the best of `Accept-Language`."""
    for candidate in (requested, *accept_languages):
        locale = normalize_locale(candidate)
        if locale:
            return locale
    return DEFAULT_LOCALE


def select_locale() -> str:
    """Flask-Babel's locale selector: the request's `locale` value or `Accept-Language`;
    outside a request (workers) English unless the caller forces the reader's locale."""
    if not has_request_context():
        return DEFAULT_LOCALE
    return pick_locale(request.values.get("locale"), [lang for lang, _ in request.accept_languages])


def confirmation_sent(count: int) -> str:
    """The answer to a signup for `count` newsletters, in the current locale."""
    if count == 1:
        return gettext(
            "Thank you for signing up for this newsletter. We've sent you a confirmation email."
        )
    return ngettext(
        "Thank you for signing up for %(num)d newsletter. We've sent you a confirmation email.",
        "Thank you for signing up for these %(num)d newsletters. "
        "We've sent you a confirmation email.",
        count,
    )


def compile_catalogues(directory: Path) -> list[Path]:
    """Compile each `messages.po` under `directory` whose `.mo` is missing or older; return
    the files written. Each is written to a temporary file and renamed into place, so several
    processes starting at once never read a half-written catalogue."""
    written = []
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            with po.open("rb") as source:
                catalog = read_po(source, locale=po.parent.parent.name, abort_invalid=True)
            compiled = io.BytesIO()
            write_mo(compiled, catalog)
            handle, temporary = tempfile.mkstemp(dir=mo.parent, suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(compiled.getvalue())
            os.chmod(temporary, 0o644)  # mkstemp makes it private; the catalogue is not
            os.replace(temporary, mo)
        except (OSError, PoFileError, ValueError) as exc:
            raise ConfigError(
                f"Cannot compile the translations {po}: {exc}. Fix the file, or compile it "
                f"with `pybabel compile -d {directory}` (make does it) where it is writable."
            ) from exc
        written.append(mo)
    return written


def init_app(app: Flask) -> None:
    """Compile stale catalogues and let Flask-Babel translate pages in the reader's locale."""
    directory = Path(app.config.get("BABEL_TRANSLATION_DIRECTORIES") or TRANSLATIONS)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(directory)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    compile_catalogues(directory)
    Babel(app, locale_selector=select_locale)
