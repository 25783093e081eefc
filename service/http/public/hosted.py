"""The hosted signup page (`/subscribe`, every public newsletter, no JavaScript needed) and what
every hosted signup form carries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.extensions import db
from service.http.contract import hosted
from service.http.errors import page
from service.http.public import bp
from service.models import Newsletter
from service.signup import captcha
from service.signup.timing import form_stamp


def public_newsletters() -> list[Newsletter]:
    """The newsletters listed on public pages, in a stable order."""
    return list(
        db.session.scalars(select(Newsletter).where(Newsletter.listed()).order_by(Newsletter.id))
    )


@bp.get("/subscribe")
@hosted()
def signup_page():
    """A hosted signup page listing every public newsletter (works without JavaScript)."""
    return page("pages/signup.html", newsletters=public_newsletters(), **hosted_form_context())


def hosted_form_context() -> dict[str, Any]:
    """What every hosted signup form carries: a signed render time and the captcha widget."""
    return {"form_stamp": form_stamp(), "captcha": captcha.widget_config()}
