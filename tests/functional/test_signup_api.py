"""Every row of the signup table in CONTRACT.md section 3, plus CORS and localization."""

from __future__ import annotations

import pytest

from tests.conftest import apply_signups_here, unique_email

URL = "/api/v1/subscriptions"


@pytest.fixture
def slug(sqlite_app):
    from service.extensions import db
    from service.models import Newsletter

    db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
    db.session.commit()
    return "daily"


@pytest.fixture
def web(sqlite_app):
    return sqlite_app.test_client()


def test_invalid_address_with_typo_suggestion(web, slug):
    response = web.post(URL, json={"email": "ivan@gmail.con", "newsletters": slug})
    assert response.status_code == 422
    assert response.json == {
        "status": "error",
        "code": "invalid_email",
        "field": "email",
        "message": "Please, enter correct email address",
        "suggestion": "ivan@gmail.com",
    }


@pytest.mark.parametrize(
    "address",
    [
        "plainaddress",
        "a@localhost",
        "a@b.test",
        '"q"@gmail.com',
        "a@[127.0.0.1]",
        "a\r\n@gmail.com",
        "x" * 65 + "@gmail.com",
    ],
)
def test_unacceptable_addresses(web, slug, address):
    response = web.post(URL, json={"email": address, "newsletters": [slug]})
    assert response.status_code == 422 and response.json["code"] == "invalid_email"


@pytest.mark.parametrize("body", [{}, {"email": ""}, {"email": "   "}])
def test_email_missing(web, slug, body):
    response = web.post(URL, json={**body, "newsletters": [slug]})
    assert response.status_code == 422
    assert response.json["code"] == "required" and response.json["field"] == "email"


def test_unknown_newsletter(web, slug):
    response = web.post(URL, json={"email": unique_email(), "newsletters": [slug, "nope"]})
    assert response.status_code == 422
    assert response.json["code"] == "unknown_newsletter" and response.json["field"] == "newsletters"


@pytest.mark.parametrize(
    "data,content_type",
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ('{"email": 5, "newsletters": {"a": 1}}', "application/json"),
        ("email=a", "text/plain"),
    ],
)
def test_malformed_bodies(web, slug, data, content_type):
    response = web.post(URL, data=data, content_type=content_type)
    assert response.status_code in (400, 422)
    assert response.json["status"] == "error"
    if response.status_code == 400:
        assert response.json["code"] == "bad_request"


def test_body_over_16_kib(web, slug):
    response = web.post(
        URL, data='{"email": "' + "a" * 17000 + '"}', content_type="application/json"
    )
    assert response.status_code == 413 and response.json["code"] == "too_large"


def test_form_encoded_repeated_and_comma_separated(web, slug, sqlite_app):
    from service.extensions import db
    from service.models import Newsletter, Subscriber

    db.session.add(Newsletter(slug="weekly", name="Weekly"))
    db.session.commit()
    email = unique_email()
    response = web.post(URL, data={"email": f"  {email}\t", "newsletters": ["daily", "weekly"]})
    assert response.status_code == 202 and response.json["code"] == "confirmation_sent"
    apply_signups_here()
    subscriber = db.session.query(Subscriber).filter_by(email_key=email.lower()).one()
    assert sorted(s.newsletter.slug for s in subscriber.subscriptions) == ["daily", "weekly"]
    assert subscriber.email == email


def test_messages_are_localized(web, slug):
    response = web.post(URL, json={"email": "bad", "newsletters": [slug], "locale": "uk"})
    assert response.json["message"] == "Будь ласка, введіть коректну адресу електронної пошти"
    response = web.post(
        URL,
        json={"email": "bad", "newsletters": [slug]},
        headers={"Accept-Language": "uk-UA,uk;q=0.9,en;q=0.5"},
    )
    assert response.json["message"].startswith("Будь ласка")


def test_cors_preflight_and_allowed_origin(sqlite_app_with):
    app = sqlite_app_with(ALLOWED_ORIGINS=["https://news.example.org"])
    web = app.test_client()
    ok = web.options(
        URL, headers={"Origin": "https://news.example.org", "Access-Control-Request-Method": "POST"}
    )
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == "https://news.example.org"
    assert "Access-Control-Allow-Credentials" not in ok.headers
    denied = web.options(URL, headers={"Origin": "https://evil.example.net"})
    assert "Access-Control-Allow-Origin" not in denied.headers


def test_rate_limited_per_address_with_retry_after(sqlite_app_with, slug):
    app = sqlite_app_with(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        SIGNUP_RATE_LIMIT_ADDRESS="2/hour",
        SIGNUP_RATE_LIMIT_IP="100/hour",
    )
    web = app.test_client()
    email = unique_email()
    codes = [
        web.post(URL, json={"email": email, "newsletters": [slug]}).status_code for _ in range(3)
    ]
    assert codes == [202, 202, 429]
    limited = web.post(URL, json={"email": email.upper(), "newsletters": [slug]})
    assert limited.status_code == 429
    assert limited.json["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    other = web.post(URL, json={"email": unique_email(), "newsletters": [slug]})
    assert other.status_code == 202
