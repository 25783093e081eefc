"""Minimum time-to-submit: too-fast signups are answered like the honeypot and stored nowhere,
except a person's: a genuine stamp of our own page that is only early gets a page to press
once more, and the typo page carries the first form's stamp, so a quick fix goes through."""

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


def _field(page: str, name: str) -> list[str]:
    return re.findall(rf'name="{name}" value="([^"]*)"', page)


def test_an_early_genuine_stamp_gets_a_page_to_press_again_not_a_fake_thanks(web, service_log):
    """Autofill and a click a second after the page appeared: nothing stored, and told so."""
    email = unique_email()
    rendered = time.time()
    with time_machine.travel(rendered, tick=False) as clock:
        first = stamp(0)
        clock.shift(1)
        answer = web.post(
            URL,
            data={"email": email, "newsletters": "daily", "form_stamp": first, "name": "Olena"},
            headers={"Accept": "text/html"},
        )
        page = answer.get_data(as_text=True)
        assert answer.status_code == 200 and "Please press Subscribe once more" in page
        assert THANKS.replace("'", "&#39;") not in page
        assert not stored(email)
        assert _field(page, "form_stamp") == [first]  # timed from the page first seen
        assert _field(page, "email") == [email] and _field(page, "newsletters") == ["daily"]
        assert _field(page, "name") == ["Olena"] and _field(page, "website") == []
        again = {
            "email": email,
            "newsletters": "daily",
            "form_stamp": first,
            "name": "Olena",
            "website": "",
        }
        clock.shift(0.5)  # pressed again at once, still before the minimum: the same page
        assert "once more" in web.post(URL, data=again, headers={"Accept": "text/html"}).text
        assert not stored(email)
        clock.shift(1)
        done = web.post(URL, data=again, headers={"Accept": "text/html"})
    assert done.status_code == 202, done.get_data(as_text=True)
    assert stored(email)
    events = [getattr(r, "event", "") for r in service_log.records]
    assert events.count("signup_held") == 2 and "signup_bot" not in events


def test_an_early_stamp_in_json_is_still_a_bot(web, service_log):
    """Only a browser posting our own page's plain form gets the second chance; the embed
    waits out the minimum itself and never posts a stamp."""
    email = unique_email()
    body = {"email": email, "newsletters": ["daily"], "form_stamp": stamp(0.2)}
    assert web.post(URL, json=body).status_code == 202
    assert not stored(email)
    assert [r.getMessage() for r in service_log.records] == ["signup dropped as automated: stamp"]


@pytest.mark.parametrize("choice", ["use-suggestion", "retry"])
def test_the_typo_page_carries_the_first_stamp_so_a_quick_fix_is_stored(web, choice):
    """A reader fills /subscribe slowly, gets "did you mean", and clicks the fix a second
    after that page appeared: stored (a fresh stamp on the typo page dropped it)."""
    local = unique_email().split("@")[0]
    rendered = time.time()
    with time_machine.travel(rendered, tick=False) as clock:
        form = web.get("/subscribe", headers={"Accept": "text/html"}).get_data(as_text=True)
        [first] = _field(form, "form_stamp")
        clock.shift(5)
        answer = web.post(
            URL,
            data={"email": f"{local}@gmial.com", "newsletters": "daily", "form_stamp": first},
            headers={"Accept": "text/html"},
        )
        assert answer.status_code == 422
        page = answer.get_data(as_text=True)
        assert _field(page, "form_stamp") == [first, first]  # both forms on the page
        clock.shift(1)
        fields = {"newsletters": "daily", "form_stamp": first, "website": ""}
        if choice == "use-suggestion":
            fields["email"] = f"{local}@gmail.com"
        else:
            fields |= {"email": f"{local}@gmial.com", "confirm_address": "true"}
        done = web.post(URL, data=fields, headers={"Accept": "text/html"})
    assert done.status_code == 202, done.get_data(as_text=True)
    assert stored(fields["email"])
