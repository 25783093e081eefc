"""Optional Turnstile / hCaptcha on signup, against a stand-in siteverify server on 127.0.0.1.

Only the verification HTTP call is stubbed (tests/support/captcha_server.py answers like the
providers do for their documented test keys); everything else is the real app and database.
"""

from __future__ import annotations

import pytest

from service.config import ConfigError
from service.extensions import db
from service.models import Newsletter
from tests.conftest import app_for, free_port, stack_env, stored, unique_email
from tests.support.captcha_server import (
    HCAPTCHA_SECRET,
    HCAPTCHA_SITE_KEY,
    HCAPTCHA_TOKEN,
    TURNSTILE_FAIL,
    TURNSTILE_PASS,
    TURNSTILE_SITE_KEY,
    TURNSTILE_TOKEN,
    CaptchaServer,
)

URL = "/api/v1/subscriptions"
FAILED_EN = "We could not confirm that you are a person. Please complete the check and try again."
FAILED_UK = "Не вдалося підтвердити, що ви людина. Пройдіть перевірку і спробуйте ще раз."


@pytest.fixture
def verifier():
    with CaptchaServer() as server:
        yield server


@pytest.fixture
def protected(sqlite_app, sqlite_app_with, verifier):
    """Factory: a client of an app with `provider` on, its secret and verify URL chosen."""
    db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
    db.session.commit()

    def make(provider: str = "turnstile", secret: str = TURNSTILE_PASS, url: str | None = None):
        site_key = TURNSTILE_SITE_KEY if provider == "turnstile" else HCAPTCHA_SITE_KEY
        app = sqlite_app_with(
            CAPTCHA_PROVIDER=provider,
            CAPTCHA_SITE_KEY=site_key,
            CAPTCHA_SECRET_KEY=secret,
            CAPTCHA_VERIFY_URL=url or verifier.url(provider),
        )
        return app.test_client()

    return make


def test_turnstile_pass_json(protected, verifier):
    email = unique_email()
    body = {"email": email, "newsletters": ["daily"], "cf-turnstile-response": TURNSTILE_TOKEN}
    response = protected().post(URL, json=body, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 202 and response.json["code"] == "confirmation_sent"
    assert stored(email)
    assert verifier.calls == [
        {"secret": TURNSTILE_PASS, "response": TURNSTILE_TOKEN, "remoteip": "203.0.113.9"}
    ]


def test_turnstile_fail_stores_nothing(protected, verifier):
    email = unique_email()
    body = {"email": email, "newsletters": ["daily"], "cf-turnstile-response": TURNSTILE_TOKEN}
    response = protected(secret=TURNSTILE_FAIL).post(URL, json=body)
    assert response.status_code == 422
    assert response.json == {
        "status": "error",
        "code": "captcha_failed",
        "field": "captcha",
        "message": FAILED_EN,
    }
    assert not stored(email)
    assert len(verifier.calls) == 1


@pytest.mark.parametrize("token", [None, "", "   "])
def test_missing_token_is_refused_without_asking_the_provider(protected, verifier, token):
    email = unique_email()
    body = {"email": email, "newsletters": ["daily"], "locale": "uk"}
    if token is not None:
        body["cf-turnstile-response"] = token
    response = protected().post(URL, json=body)
    assert response.status_code == 422
    assert response.json["code"] == "captcha_failed" and response.json["message"] == FAILED_UK
    assert not stored(email)
    assert verifier.calls == []


def test_hcaptcha_form_post_pass_and_wrong_response(protected, verifier):
    web = protected("hcaptcha", HCAPTCHA_SECRET)
    good, bad = unique_email(), unique_email()
    ok = web.post(
        URL, data={"email": good, "newsletters": "daily", "h-captcha-response": HCAPTCHA_TOKEN}
    )
    assert ok.status_code == 202
    wrong = web.post(URL, data={"email": bad, "newsletters": "daily", "h-captcha-response": "nope"})
    assert wrong.status_code == 422 and wrong.json["code"] == "captcha_failed"
    assert stored(good) and not stored(bad)
    assert [c["response"] for c in verifier.calls] == [HCAPTCHA_TOKEN, "nope"]


@pytest.mark.parametrize("where", ["closed port", "provider error"])
def test_provider_unreachable_is_503_with_retry_after(protected, verifier, where):
    url = f"http://127.0.0.1:{free_port()}/siteverify" if where == "closed port" else None
    web = protected(url=url or verifier.url("broken"))
    email = unique_email()
    body = {"email": email, "newsletters": ["daily"], "cf-turnstile-response": TURNSTILE_TOKEN}
    response = web.post(URL, json=body)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.json["code"] == "captcha_unavailable"
    assert "try again" in response.json["message"]
    assert not stored(email)
    page = web.post(URL, data=body, headers={"Accept": "text/html"})
    assert page.status_code == 503 and page.headers["Retry-After"] == "30"
    assert "Please try again in a minute." in page.get_data(as_text=True)


def test_the_check_is_off_by_default(sqlite_app, verifier):
    assert sqlite_app.config["CAPTCHA_PROVIDER"] == ""
    db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
    db.session.commit()
    email = unique_email()
    assert (
        sqlite_app.test_client()
        .post(URL, json={"email": email, "newsletters": "daily"})
        .status_code
        == 202
    )
    assert stored(email) and verifier.calls == []


def test_widget_config_reaches_the_embed_and_hosted_forms_without_the_secret(protected):
    web = protected()
    config = web.get("/embed/newsletters.json").json["_config"]
    assert config["captcha"] == {
        "provider": "turnstile",
        "site_key": TURNSTILE_SITE_KEY,
        "script": "https://challenges.cloudflare.com/turnstile/v0/api.js",
        "field": "cf-turnstile-response",
        "class": "cf-turnstile",
    }
    for path in ("/subscribe", "/"):
        page = web.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
        assert f'<div class="cf-turnstile" data-sitekey="{TURNSTILE_SITE_KEY}"></div>' in page
        assert "challenges.cloudflare.com/turnstile/v0/api.js" in page
        assert TURNSTILE_PASS not in page


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"CAPTCHA_PROVIDER": "recaptcha"}, "CAPTCHA_PROVIDER must be one of"),
        ({"CAPTCHA_PROVIDER": "turnstile", "CAPTCHA_SITE_KEY": "x"}, "needs CAPTCHA_SITE_KEY"),
    ],
)
def test_incomplete_configuration_is_refused(tmp_path, settings, says):
    env = stack_env(f"sqlite:///{tmp_path / 'x.db'}", "memory://", "", "memory://", tmp_path)
    with pytest.raises(ConfigError, match=says):
        app_for(env, **settings)
