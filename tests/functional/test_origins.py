"""Per-newsletter origin allowlists: signup, CORS preflight, iframe embedding, API and CLI."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update

from service.access.keys import create_api_key
from service.extensions import db
from service.lists import newsletter_index
from service.lists.newsletters import update_newsletter
from service.models import Newsletter
from tests.conftest import stored, unique_email

URL = "/api/v1/subscriptions"
SITE = "https://news.example.org"  # the global ALLOWED_ORIGINS
PARTNER = "https://partner.example.com"  # allowed for `partner` only
STRANGER = "https://evil.example.net"


@pytest.fixture
def web(sqlite_app, sqlite_app_with):
    db.session.add_all(
        [
            Newsletter(slug="daily", name="Ukraine Daily"),
            Newsletter(slug="partner", name="Partner", allowed_origins=[PARTNER]),
            Newsletter(
                slug="shared", name="Shared", allowed_origins=[PARTNER, "http://b.example:8080"]
            ),
        ]
    )
    db.session.commit()
    return sqlite_app_with(ALLOWED_ORIGINS=[SITE]).test_client()


def post(web, origin: str | None, newsletters: list[str], **kwargs):
    email = unique_email()
    headers = {"Origin": origin} if origin else {}
    response = web.post(
        URL, json={"email": email, "newsletters": newsletters}, headers=headers, **kwargs
    )
    return response, email


@pytest.mark.parametrize(
    ("origin", "newsletters"),
    [
        (PARTNER, ["partner"]),
        (PARTNER, ["partner", "shared"]),  # in the list of every newsletter asked for
        (SITE, ["daily", "partner"]),  # the global list covers every newsletter
        (None, ["daily"]),  # not a browser: nothing to check
        ("http://127.0.0.1:5999", ["daily"]),  # PUBLIC_URL: the service's own pages
    ],
)
def test_allowed_signups(web, origin, newsletters):
    response, email = post(web, origin, newsletters)
    assert response.status_code == 202, response.json
    assert stored(email)
    if origin:
        assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    ("origin", "newsletters", "readable"),
    [
        (PARTNER, ["daily"], True),
        (PARTNER, ["partner", "daily"], True),  # one newsletter not allowed: the whole signup
        (STRANGER, ["partner"], False),
        ("null", ["daily"], False),
    ],
)
def test_refused_signups_store_nothing(web, origin, newsletters, readable):
    response, email = post(web, origin, newsletters)
    assert response.status_code == 403
    assert response.json["code"] == "origin_not_allowed"
    assert "may not sign readers up" in response.json["message"]
    assert not stored(email)
    # The partner may read the refusal (it is allowed for some newsletter); a stranger may not.
    assert (response.headers.get("Access-Control-Allow-Origin") == origin) is readable


@pytest.mark.parametrize("host", ["localhost", "evil.example.net", "evil.example.net:8080"])
def test_the_host_header_never_makes_an_origin_the_services_own(web, host):
    """The service's origin is PUBLIC_URL's: a client writes its Host as it likes."""
    email = unique_email()
    headers = {"Origin": f"http://{host}", "Host": host}
    response = web.post(URL, json={"email": email, "newsletters": ["daily"]}, headers=headers)
    assert response.status_code == 403, response.json
    assert not stored(email)


def test_refusal_is_localized_and_a_page_for_browsers(web):
    email = unique_email()
    page = web.post(
        URL,
        data={"email": email, "newsletters": "daily", "locale": "uk"},
        headers={"Origin": PARTNER, "Accept": "text/html"},
    )
    assert page.status_code == 403
    assert "Цей сайт не може підписувати" in page.get_data(as_text=True)


def test_preflight_answers_for_the_union_of_all_lists(web):
    def preflight(origin: str):
        return web.options(URL, headers={"Origin": origin, "Access-Control-Request-Method": "POST"})

    for origin in (SITE, PARTNER, "http://b.example:8080"):
        answer = preflight(origin)
        assert answer.status_code == 204
        assert answer.headers["Access-Control-Allow-Origin"] == origin
        assert "Access-Control-Allow-Credentials" not in answer.headers
    assert "Access-Control-Allow-Origin" not in preflight(STRANGER).headers


def test_iframe_form_may_be_framed_by_its_newsletters_origins(web):
    def ancestors(path: str) -> str:
        policy = web.get(path).headers["Content-Security-Policy"]
        return policy.split("frame-ancestors ", 1)[1].split(";", 1)[0]

    assert ancestors("/forms/partner") == f"'self' {SITE} {PARTNER}"
    assert ancestors("/forms/daily") == f"'self' {SITE}"


def test_admin_api_sets_lists_and_validates_origins(web):
    auth = {"Authorization": f"Bearer {create_api_key(f'origins-{uuid.uuid4().hex[:8]}')}"}
    created = web.post(
        "/api/v1/newsletters",
        headers=auth,
        json={
            "slug": "weekly",
            "name": "Weekly",
            "allowed_origins": ["HTTPS://Site.Example/", "https://site.example"],
        },
    )
    assert created.status_code == 201, created.json
    assert created.json["allowed_origins"] == ["https://site.example"]
    patched = web.patch(
        "/api/v1/newsletters/weekly", headers=auth, json={"allowed_origins": [PARTNER]}
    )
    assert patched.json["allowed_origins"] == [PARTNER]
    listed = {
        n["slug"]: n for n in web.get("/api/v1/newsletters", headers=auth).json["newsletters"]
    }
    assert listed["weekly"]["allowed_origins"] == [PARTNER]
    assert listed["daily"]["allowed_origins"] == []
    for bad in (
        ["https://site.example/path"],
        ["*"],
        ["ftp://x.example"],
        "not-a-list-origin",
        [5],
    ):
        refused = web.patch(
            "/api/v1/newsletters/weekly", headers=auth, json={"allowed_origins": bad}
        )
        assert refused.status_code == 422, bad
        assert refused.json["field"] == "allowed_origins"
    assert (
        web.post(
            URL,
            json={"email": unique_email(), "newsletters": ["weekly"]},
            headers={"Origin": PARTNER},
        ).status_code
        == 202
    )


def test_openapi_documents_the_field(web):
    schema = web.get("/openapi.json").json["components"]["schemas"]["NewsletterFields"]
    field = schema["properties"]["allowed_origins"]
    kinds = [field, *field.get("anyOf", [])]  # OpenAPI 3.1: optional is "array or null"
    [array] = [kind for kind in kinds if kind.get("type") == "array"]
    assert array["items"]["type"] == "string" and array.get("maxItems") == 50


def test_cli_creates_and_lists_origins(sqlite_app):
    runner = sqlite_app.test_cli_runner()
    created = runner.invoke(
        args=[
            "newsletters",
            "create",
            "cli-origins",
            "--name",
            "CLI",
            "--allowed-origin",
            PARTNER,
            "--allowed-origin",
            "https://two.example",
        ]
    )
    assert created.exit_code == 0, created.output
    db.session.remove()
    listed = runner.invoke(args=["newsletters", "list"])
    assert f"[{PARTNER} https://two.example]" in listed.output
    refused = runner.invoke(
        args=["newsletters", "create", "cli-bad", "--name", "Bad", "--allowed-origin", "nope"]
    )
    assert refused.exit_code == 2 and "--allowed-origin" in refused.output


def _allowlist_elsewhere(slug: str, origins: list[str]) -> None:
    """Change a newsletter's list as another process would: in the database, nothing else."""
    db.session.execute(
        update(Newsletter).where(Newsletter.slug == slug).values(allowed_origins=origins)
    )
    db.session.commit()


def test_lists_are_read_once_per_process_and_refreshed(web, monkeypatch):
    assert post(web, PARTNER, ["partner"])[0].status_code == 202  # the copy is warm now
    _allowlist_elsewhere("partner", [STRANGER])
    assert post(web, PARTNER, ["partner"])[0].status_code == 202  # still this process's copy
    monkeypatch.setattr(newsletter_index, "COPY_SECONDS", 0.0)  # the copy's time is up
    assert post(web, PARTNER, ["partner"])[0].status_code == 403
    assert post(web, STRANGER, ["partner"])[0].status_code == 202


def test_a_newsletter_the_copy_lacks_is_looked_up(web):
    assert post(web, PARTNER, ["partner"])[0].status_code == 202  # the copy is warm now
    db.session.add(Newsletter(slug="new", name="New", allowed_origins=[SITE + ":8443"]))
    db.session.commit()  # created elsewhere: this process was not told
    response, email = post(web, PARTNER, ["new"])
    assert response.status_code == 403
    assert not stored(email)
    assert post(web, SITE + ":8443", ["new"])[0].status_code == 202


def test_changes_through_this_process_apply_at_once(web):
    assert post(web, PARTNER, ["partner"])[0].status_code == 202  # the copy is warm now
    update_newsletter(
        db.session.scalar(select(Newsletter).filter_by(slug="partner")),
        {"allowed_origins": [STRANGER]},
    )
    assert post(web, PARTNER, ["partner"])[0].status_code == 403
    assert post(web, STRANGER, ["partner"])[0].status_code == 202


def test_an_allowlist_entry_matches_the_origin_a_browser_sends(web):
    """Entered as people write them, matched as browsers send them: IPv6, IDN, default port."""
    update_newsletter(
        db.session.scalar(select(Newsletter).filter_by(slug="partner")),
        {"allowed_origins": ["https://[::1]:8443", "https://Новини.укр:443/"]},
    )
    for origin in ("https://[::1]:8443", "https://xn--b1amarcd.xn--j1amh"):
        response, email = post(web, origin, ["partner"])
        assert response.status_code == 202, (origin, response.json)
        assert stored(email)
    assert post(web, "https://[::2]:8443", ["partner"])[0].status_code == 403
