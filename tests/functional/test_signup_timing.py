"""Minimum time-to-submit: too-fast signups are answered like the honeypot and stored nowhere."""

from __future__ import annotations

import re
import time

import pytest
import time_machine

from service.extensions import db
from service.models import Newsletter
from service.tokens import token_service
from tests.conftest import stored, unique_email

URL = "/api/v1/subscriptions"
THANKS = "Thank you for signing up for this newsletter. We've sent you a confirmation email."


@pytest.fixture
def web(sqlite_app_with, sqlite_app):
    db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
    db.session.commit()
    return sqlite_app_with(SIGNUP_MIN_SECONDS=2).test_client()


def stamp(age_seconds: float) -> str:
    """A genuine stamp for a form rendered `age_seconds` ago."""
    return token_service("form").dumps({"t": int((time.time() - age_seconds) * 1000)})


def test_default_is_two_seconds(sqlite_app):
    assert sqlite_app.config["SIGNUP_MIN_SECONDS"] == 2


@pytest.mark.parametrize(
    ("extra", "kept"),
    [
        ({"elapsed_ms": 150}, False),
        ({"elapsed_ms": "1999"}, False),
        ({"elapsed_ms": "soon"}, False),
        ({"elapsed_ms": 2000}, True),
        ({"elapsed_ms": 45000}, True),
        ({}, True),  # a plain third-party form sends neither field: no check
    ],
)
def test_embed_elapsed_time(web, service_log, extra, kept):
    email = unique_email()
    response = web.post(URL, json={"email": email, "newsletters": ["daily"], **extra})
    assert response.status_code == 202
    assert response.json["message"] == THANKS  # a bot learns nothing from the answer
    assert stored(email) is kept
    dropped = [r for r in service_log.records if getattr(r, "event", None) == "signup_bot"]
    assert bool(dropped) is not kept
    if dropped:
        assert "elapsed_ms" in dropped[0].getMessage()


@pytest.mark.parametrize(
    ("make_stamp", "kept", "reason"),
    [
        (lambda: stamp(0.2), False, "stamp"),
        (lambda: stamp(3), True, None),
        (lambda: stamp(3)[:-2] + "xx", False, "tampered_stamp"),
        (lambda: token_service("confirm").dumps({"t": 0}), False, "tampered_stamp"),
        (lambda: "not-a-stamp", False, "tampered_stamp"),
    ],
)
def test_hosted_form_stamp(web, service_log, make_stamp, kept, reason):
    email = unique_email()
    response = web.post(
        URL,
        data={"email": email, "newsletters": "daily", "form_stamp": make_stamp()},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 202
    assert THANKS.replace("'", "&#39;") in response.get_data(as_text=True)
    assert stored(email) is kept
    messages = [
        r.getMessage() for r in service_log.records if getattr(r, "event", "") == "signup_bot"
    ]
    assert messages == ([] if kept else [f"signup dropped as automated: {reason}"])


def test_zero_switches_the_check_off(sqlite_app_with, web):
    off = sqlite_app_with(SIGNUP_MIN_SECONDS=0).test_client()
    email = unique_email()
    body = {"email": email, "newsletters": ["daily"], "elapsed_ms": 1, "form_stamp": "junk"}
    assert off.post(URL, json=body).status_code == 202
    assert stored(email)


def test_honeypot_is_logged_too(web, service_log):
    email = unique_email()
    body = {"email": email, "newsletters": ["daily"], "website": "http://spam.example.com"}
    assert web.post(URL, json=body).status_code == 202
    assert not stored(email)
    assert [r.getMessage() for r in service_log.records] == [
        "signup dropped as automated: honeypot"
    ]


@pytest.mark.parametrize("value", [0, 7, 0.5, False, True, " ", ["x"], {"a": 1}, "0"])
def test_any_value_in_the_honeypot_counts_a_number_too(web, service_log, value):
    email = unique_email()
    body = {"email": email, "newsletters": ["daily"], "website": value}
    assert web.post(URL, json=body).status_code == 202
    assert not stored(email)


@pytest.mark.parametrize("value", [None, "", []])
def test_an_empty_honeypot_is_a_person(web, value):
    email = unique_email()
    body = {"email": email, "newsletters": ["daily"], "website": value}
    assert web.post(URL, json=body).status_code == 202
    assert stored(email)


@pytest.mark.parametrize("path", ["/subscribe", "/forms/daily", "/"])
def test_hosted_forms_carry_a_signed_stamp_that_works_after_the_wait(web, path):
    rendered = time.time()
    with time_machine.travel(rendered, tick=False) as clock:
        page = web.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
        [value] = re.findall(r'name="form_stamp" value="([^"]+)"', page)
        assert token_service("form").loads(value)["t"] == int(rendered * 1000)
        first, second = unique_email(), unique_email()
        clock.shift(1.9)
        assert web.post(URL, data={"email": first, "newsletters": "daily", "form_stamp": value})
        clock.shift(0.2)
        assert web.post(URL, data={"email": second, "newsletters": "daily", "form_stamp": value})
    assert not stored(first)  # 1.9 s after the page was drawn: a bot
    assert stored(second)  # 2.1 s: a person
