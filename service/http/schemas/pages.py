"""The forms of the hosted pages (unsubscribe, preferences, manage): plain-form fields only."""

from __future__ import annotations

from pydantic import Field

from service.http.schemas.common import Model


class UnsubscribeForm(Model):
    """The unsubscribe button, or a mail client's one-click POST (RFC 8058)."""

    list_unsubscribe: str | None = Field(None, alias="List-Unsubscribe")
    scope: str | None = None
    locale: str | None = None


class UndoForm(Model):
    """Undo an unsubscribe from its confirmation page."""

    secret: str | None = None
    scope: str | None = None


class PreferencesForm(Model):
    """The newsletters a reader keeps."""

    secret: str | None = None
    newsletters: str | None = None


class ManageForm(Model):
    """Ask for a link to one's preferences by email."""

    email: str | None = None
    locale: str | None = None
