"""Embedding assets: the signup box script, its newsletter names, and the box as an iframe page.

`/embed.js` is static and cacheable (an ETag and a short max-age, so a fix reaches every news
page within the hour); `/forms/<slug>` is the same box on a page of its own for an iframe, with a
plain form inside `<noscript>` for readers without JavaScript. The form page posts its height to
its parent (`/embed/form-height.js`) and `/embed/frame.js`, on the framing page, sizes the
iframe to it: message `{"type": "newsletter-service:height", "height": N}`, checked for origin.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, request, send_from_directory
from sqlalchemy import select

from service.extensions import db
from service.http.contract import hosted
from service.http.errors import page, request_locale
from service.http.origins import cors_allowed, frame_ancestors, link_back, signup_allowed
from service.http.page_policy import allow_framing
from service.http.public.hosted import hosted_form_context
from service.lists import newsletter_index
from service.models import Newsletter
from service.signup import captcha
from service.signup.timing import min_seconds

bp = Blueprint("embed", __name__)

SCRIPT_MAX_AGE = 3600
SLUGS_MAX = 20
SLUG_MAX = 100
THEMES = ("light", "dark")


def _public(response: Response, max_age: int) -> Response:
    """Cacheable by browsers and CDNs, readable from any origin, never with cookies."""
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.pop("Set-Cookie", None)
    return response


@bp.get("/embed.js")
@hosted("text/javascript")
def script() -> Response:
    """The signup box script (see service/static/embed.js)."""
    return _script("embed.js")


@bp.get("/embed/frame.js")
@hosted("text/javascript")
def frame_script() -> Response:
    """For pages that frame /forms/<slug>: sizes the iframe to the form (static/frame.js)."""
    return _script("frame.js")


@bp.get("/embed/form-height.js")
@hosted("text/javascript")
def form_height_script() -> Response:
    """For /forms/<slug> itself: tells the parent page its height (static/form-height.js)."""
    return _script("form-height.js")


def _script(name: str) -> Response:
    response = send_from_directory(
        current_app.static_folder or "",
        name,
        mimetype="text/javascript",
        max_age=SCRIPT_MAX_AGE,
        conditional=True,
        etag=True,
    )
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    return _public(response, SCRIPT_MAX_AGE)


@bp.get("/embed/newsletters.json")
@hosted("application/json")
def newsletter_names() -> Response:
    """What every box fetches once: the public newsletters' names and descriptions in the
    box's `?locale=` (English where untranslated), for its checkboxes, and
    the signup settings it must honour, under `_config`: `min_seconds` (the box waits that
    long after it was drawn before it posts) and `captcha` (provider, site key, script; or
    null); with `?newsletters=` the box's own slugs, also `unknown` and `origin_allowed`.
    Never a secret; cacheable for five minutes like the names."""
    locale = request_locale(request.args.get("locale"))
    rows = db.session.scalars(select(Newsletter).where(Newsletter.listed()))
    names = {
        n.slug: {"name": n.name_in(locale), "description": n.description_in(locale)} for n in rows
    }
    config = {"min_seconds": min_seconds(), "captcha": captcha.widget_config()}
    if "newsletters" in request.args:
        config |= _box_check(request.args["newsletters"])
    response = _public(jsonify({**names, "_config": config}), 300)
    response.vary.add("Accept-Language")  # without ?locale= the names follow the browser
    response.vary.add("Origin")
    return response


def _box_check(value: str) -> dict[str, object]:
    """For a box's `?newsletters=a,b`: the slugs that name no newsletter (`unknown`) and whether
    the page asking (its `Origin`) may sign readers up to the others (`origin_allowed`), so the
    box can tell the site developer at once instead of failing on the reader's first press."""
    slugs = list(dict.fromkeys(s.strip() for s in value.split(",") if s.strip()))[:SLUGS_MAX]
    slugs = [slug[:SLUG_MAX] for slug in slugs]
    known = newsletter_index.newsletters(slugs)
    found = [slug for slug in slugs if slug in known]
    origin = request.headers.get("Origin")
    allowed = signup_allowed(origin, found) if found else origin is None or cors_allowed(origin)
    return {"unknown": [slug for slug in slugs if slug not in known], "origin_allowed": allowed}


@bp.get("/forms/<slug>")
@hosted()
def form_page(slug: str):
    """The box for one newsletter as a page of its own, to put in an iframe."""
    newsletter = db.session.scalar(
        select(Newsletter).where(Newsletter.slug == slug, Newsletter.listed())
    )
    if newsletter is None:
        abort(404)
    locale = request_locale(request.args.get("locale"))
    theme = request.args.get("theme")
    body, status = page(
        "pages/form.html",
        locale=locale,
        newsletter=newsletter,
        theme=theme if theme in THEMES else "light",
        compact="compact" in request.args,
        accent=request.args.get("accent", ""),
        source_url=link_back(request.referrer),  # the page framing us, for "back to the site"
        **hosted_form_context(),
    )
    response = Response(body, status, mimetype="text/html")
    allow_framing(frame_ancestors(newsletter.allowed_origins or []))
    response.cache_control.no_store = True
    return response
