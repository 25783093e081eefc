"""A locale asked for by name (body, query string, CLI option) must have a catalogue.

Before, `?locale=xx` on the digest preview answered 500, the test send queued a job that
failed in the worker, and a signup or a page took any value and dropped it in silence. Now
each is a 422 `unknown_locale` naming the locales there are (a usage error on the command
line), on SQLite and PostgreSQL with the production error path on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from service.access.keys import create_api_key
from service.digests.articles import upsert_article
from service.digests.compose import send_test_digest
from service.extensions import db
from service.i18n import LOCALES, UnknownLocale
from service.models import Newsletter, OutboxJob, utcnow

HOSTILE = ["xx", "../../../etc/passwd", "en/../../x", "zz-ZZ", "C", " ", "e" * 300]


@pytest.fixture(params=["sqlite", "postgresql"])
def locale_app(request) -> Iterator[Flask]:
    """An app on each backend, errors answered as in production, `daily` with articles."""
    app = request.getfixturevalue("sqlite_app" if request.param == "sqlite" else "postgres_app")
    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
    db.session.commit()
    for n in range(3):
        published = (utcnow() - timedelta(hours=n + 1)).isoformat()
        upsert_article({"title": f"Story {n}", "url": f"https://news.example.org/{n}",
                        "published_at": published})  # fmt: skip
    yield app
    app.testing = True
    app.config["PROPAGATE_EXCEPTIONS"] = None


@pytest.fixture
def auth(locale_app) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key('locales')}"}


def assert_unknown_locale(response) -> None:
    assert response.status_code == 422, (response.status_code, response.get_data()[:300])
    body = response.json
    assert body["status"] == "error" and body["code"] == "unknown_locale", body
    assert body["field"] == "locale" and body["available"] == list(LOCALES)
    assert all(locale in body["message"] for locale in LOCALES), body["message"]


def jobs() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxJob))


@pytest.mark.parametrize("locale", HOSTILE)
def test_the_preview_in_an_unknown_locale_is_a_422_naming_the_available(locale_app, auth, locale):
    client = locale_app.test_client()
    for kind in ("html", "text"):
        response = client.get(
            "/api/v1/digest-preview/daily", query_string={"locale": locale, "format": kind},
            headers=auth,
        )  # fmt: skip
        assert_unknown_locale(response)


def test_the_preview_in_a_known_locale_renders(locale_app, auth):
    client = locale_app.test_client()
    for asked in ("uk", "uk-UA", "EN", ""):
        response = client.get(f"/api/v1/digest-preview/daily?locale={asked}", headers=auth)
        assert response.status_code == 200, (asked, response.get_data()[:300])
        assert "Story 0" in response.get_data(as_text=True)
    odd_format = client.get("/api/v1/digest-preview/daily?format=pdf", headers=auth)
    assert odd_format.status_code == 422 and odd_format.json["field"] == "format"


@pytest.mark.parametrize("locale", [*HOSTILE, 5, True, ["uk"], {"uk": 1}])
def test_a_test_send_in_an_unknown_locale_queues_nothing(locale_app, auth, locale):
    client = locale_app.test_client()
    before = jobs()
    response = client.post(
        "/api/v1/digest-preview/daily/test",
        json={"email": "editor@gmail.com", "locale": locale},
        headers=auth,
    )
    assert_unknown_locale(response)
    assert jobs() == before


def test_a_test_send_in_a_known_locale_is_queued_with_it(locale_app, auth):
    client = locale_app.test_client()
    response = client.post(
        "/api/v1/digest-preview/daily/test",
        json={"email": "editor@gmail.com", "locale": "uk-UA"},
        headers=auth,
    )
    assert response.status_code == 202, response.json
    job = db.session.get(OutboxJob, response.json["job_id"])
    assert job.payload["locale"] == "uk"


def test_the_worker_refuses_an_unknown_locale_before_mailing(locale_app):
    """A job queued before this check existed fails for good, with the reason."""
    daily = db.session.scalar(select(Newsletter).where(Newsletter.slug == "daily"))
    with pytest.raises(UnknownLocale, match="use one of en, uk"):
        send_test_digest(daily.id, "editor@gmail.com", locale="../x")


@pytest.mark.parametrize("locale", ["xx", "../x", 7])
def test_a_signup_in_an_unknown_locale_is_a_422_and_stores_nothing(locale_app, locale):
    client = locale_app.test_client()
    before = jobs()
    body = {"email": "reader@gmail.com", "newsletters": ["daily"], "locale": locale}
    assert_unknown_locale(client.post("/api/v1/subscriptions", json=body))
    if isinstance(locale, str):
        form = {**body, "locale": locale}
        assert_unknown_locale(client.post("/api/v1/subscriptions", data=form))
    assert jobs() == before


def test_a_signup_in_a_known_locale_is_accepted(locale_app):
    client = locale_app.test_client()
    body = {"email": "reader@gmail.com", "newsletters": ["daily"], "locale": "uk"}
    response = client.post("/api/v1/subscriptions", json=body)
    assert response.status_code == 202, response.json
    assert "Дякуємо" in response.json["message"]


@pytest.mark.parametrize("path", ["/subscribe", "/manage", "/forms/daily", "/archive/daily"])
def test_a_page_asked_for_in_an_unknown_locale_is_a_422(locale_app, path):
    client = locale_app.test_client()
    assert_unknown_locale(client.get(path, query_string={"locale": "xx"}))
    assert client.get(path, query_string={"locale": "uk"}).status_code == 200


@pytest.mark.parametrize("command", ["preview", "test"])
def test_the_cli_refuses_an_unknown_locale_naming_the_available(locale_app, command):
    args = ["digest", command, "daily", *(["editor@gmail.com"] if command == "test" else [])]
    result = locale_app.test_cli_runner().invoke(args=[*args, "--locale", "../xx"])
    assert result.exit_code == 2, result.output
    assert "unknown locale '../xx': use one of en, uk" in result.output
    assert "Traceback" not in result.output
    good = locale_app.test_cli_runner().invoke(
        args=["digest", "preview", "daily", "--locale", "uk"]
    )
    assert good.exit_code == 0 and "Story 0" in good.output, good.output
