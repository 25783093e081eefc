"""One security policy on every page the app serves (issue 13 item 10).

The routes are read from `app.url_map`, never listed by hand: a new page is covered the day it
is added. Each is asked for as a browser would (`Accept: text/html`), with made-up arguments, so
the answer is the page itself or its error page; both must defend themselves.
"""

from __future__ import annotations

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter

SITE = "https://news.example.org"
HTML = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def app(sqlite_app_with):
    app = sqlite_app_with(ALLOWED_ORIGINS=[SITE])
    with app.app_context():
        from service.extensions import db
        from service.models import Newsletter

        db.session.add(Newsletter(slug="daily", name="Ukraine Daily", is_public=True))
        db.session.commit()
    return app


def _directives(policy: str) -> dict[str, str]:
    parts = (d.strip().split(None, 1) for d in policy.split(";") if d.strip())
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts}


def _example_value(converter) -> object:
    if isinstance(converter, IntegerConverter):
        return 1
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return "daily"


def _example_url(rule) -> str:
    values = {name: _example_value(rule._converters[name]) for name in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


def _every_route(app) -> list[tuple[str, str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, _example_url(rule), rule.endpoint))
    return routes


def test_every_route_answers_with_the_policy(app):
    web = app.test_client()
    html_pages = set()
    for method, url, endpoint in _every_route(app):
        response = web.open(url, method=method, headers=HTML, data={})
        where = f"{method} {url} ({endpoint}) -> {response.status_code}"
        assert response.status_code < 500, where
        assert response.headers.get("X-Content-Type-Options") == "nosniff", where
        assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), where
        if response.mimetype != "text/html":
            continue
        html_pages.add(endpoint)
        policy = _directives(response.headers.get("Content-Security-Policy", ""))
        assert "frame-ancestors" in policy, where
        assert policy.get("default-src") == "'none'", where
        assert "'unsafe-inline'" not in policy.get("script-src", ""), where
        if endpoint == "embed.form_page" and response.status_code == 200:
            assert policy["frame-ancestors"] == f"'self' {SITE}", where
            assert "X-Frame-Options" not in response.headers, where
        else:
            expected = {"'none'": "DENY", "'self'": "SAMEORIGIN"}[policy["frame-ancestors"]]
            assert response.headers.get("X-Frame-Options") == expected, where
    # The pages of the issue, seen as HTML (a route that stopped answering HTML fails here).
    expected = {
        "demo.article",
        "public.signup_page",
        "unsubscribe.manage_page",
        "public.confirm_page",
        "unsubscribe.unsubscribe_page",
        "unsubscribe.preferences_page",
        "archive.index",
        "embed.form_page",
    }
    assert expected <= html_pages, expected - html_pages


def test_pages_carry_no_inline_script(app):
    """The policy allows no inline script, so no page may need one."""
    from lxml import html as lxml_html

    web = app.test_client()
    for method, url, endpoint in _every_route(app):
        if method != "GET":
            continue
        response = web.get(url, headers=HTML)
        if response.mimetype != "text/html" or not response.data.strip():
            continue
        tree = lxml_html.fromstring(response.data)
        inline = [s for s in tree.iter("script") if not s.get("src")]
        handlers = [
            (el.tag, name) for el in tree.iter() for name in el.attrib if name.startswith("on")
        ]
        assert not inline and not handlers, f"{url} ({endpoint}): {inline} {handlers}"


def test_captcha_provider_is_allowed_where_its_widget_loads(sqlite_app_with):
    app = sqlite_app_with(
        CAPTCHA_PROVIDER="turnstile", CAPTCHA_SITE_KEY="site", CAPTCHA_SECRET_KEY="secret"
    )
    policy = _directives(app.test_client().get("/subscribe").headers["Content-Security-Policy"])
    for directive in ("script-src", "frame-src", "connect-src"):
        assert "https://challenges.cloudflare.com" in policy[directive]
    assert "'unsafe-inline'" not in policy["script-src"]
