"""A likely typo of a big provider's domain is refused by the server for every client (issue 13
item 6): JSON and plain forms get 422 `invalid_email` with the fix; `confirm_address` says the
reader meant it. The hosted page offers the fix and a "this address is right" checkbox."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from tests.conftest import stored, unique_email

URL = "/api/v1/subscriptions"
HTML = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
TYPOS = [
    ("someone@gmial.com", "someone@gmail.com"),
    ("someone@hotmial.com", "someone@hotmail.com"),
    ("someone@yahooo.com", "someone@yahoo.com"),
]


@pytest.fixture
def app(sqlite_app_with):
    # No minimum time: the tests re-post the hosted page's own form at once.
    app = sqlite_app_with(SIGNUP_MIN_SECONDS=0)
    with app.app_context():
        from service.extensions import db
        from service.models import Newsletter

        db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
        db.session.add(Newsletter(slug="weekly", name="Weekly"))
        db.session.commit()
        yield app


@pytest.fixture
def web(app):
    return app.test_client()


@pytest.mark.parametrize(("typed", "fixed"), TYPOS)
def test_json_client_gets_422_with_the_fix_then_is_accepted_when_it_insists(web, typed, fixed):
    local = unique_email().split("@")[0]
    email, suggestion = f"{local}@{typed.split('@')[1]}", f"{local}@{fixed.split('@')[1]}"
    first = web.post(URL, json={"email": email, "newsletters": ["daily"]})
    assert first.status_code == 422
    assert first.json == {
        "status": "error",
        "code": "invalid_email",
        "field": "email",
        "message": "Please, enter correct email address",
        "suggestion": suggestion,
    }
    assert not stored(email)
    again = web.post(URL, json={"email": email, "newsletters": ["daily"], "confirm_address": True})
    assert again.status_code == 202 and again.json["code"] == "confirmation_sent"
    assert stored(email)


def test_the_message_is_localized(web):
    answer = web.post(URL, json={"email": "x@gmial.com", "newsletters": "daily", "locale": "uk"})
    assert answer.status_code == 422
    assert answer.json["message"] == "Будь ласка, введіть коректну адресу електронної пошти"
    assert answer.json["suggestion"] == "x@gmail.com"


@pytest.mark.parametrize("value", ["true", "1", "on", "TRUE", " on "])
def test_form_values_that_confirm(web, value):
    email = f"{unique_email().split('@')[0]}@gmial.com"
    answer = web.post(URL, data={"email": email, "newsletters": "daily", "confirm_address": value})
    assert answer.status_code == 202
    assert stored(email)


@pytest.mark.parametrize("value", ["", "false", "0", "off"])
def test_form_values_that_do_not_confirm(web, value):
    answer = web.post(
        URL, data={"email": "x@gmial.com", "newsletters": "daily", "confirm_address": value}
    )
    assert answer.status_code == 422 and answer.json["suggestion"] == "x@gmail.com"


@pytest.mark.parametrize("value", ["maybe", 1, "yes please", [True], {"a": 1}])
def test_confirm_address_that_is_no_yes_or_no_is_a_bad_request(web, value):
    answer = web.post(
        URL, json={"email": "x@gmial.com", "newsletters": "daily", "confirm_address": value}
    )
    assert answer.status_code == 400 and answer.json["code"] == "bad_request"
    assert "confirm_address" in answer.json["detail"]


def test_confirming_does_not_let_an_unacceptable_address_through(web):
    answer = web.post(
        URL, json={"email": "x@gmail.con", "newsletters": "daily", "confirm_address": True}
    )
    assert answer.status_code == 422 and answer.json["suggestion"] == "x@gmail.com"


def test_the_suggested_address_is_accepted_without_confirmation(web):
    email = unique_email()
    assert web.post(URL, json={"email": email, "newsletters": "daily"}).status_code == 202


# --- the hosted page ---------------------------------------------------------------------------


def _forms(answer) -> dict[str, dict[str, list[str]]]:
    """Each form on the page by id: its fields as a browser would submit them (checkboxes on)."""
    tree = lxml_html.fromstring(answer.data)
    forms = {}
    for form in tree.forms:
        fields: dict[str, list[str]] = {}
        for field in form.inputs:
            if field.name is None:
                continue
            if field.get("type") == "checkbox":
                fields.setdefault(field.name, []).append(field.get("value") or "on")
            else:
                fields.setdefault(field.name, []).append(field.value or "")
        forms[form.get("id")] = fields
    return forms


def test_plain_form_page_offers_the_fix_and_the_checkbox(web):
    email = f"{unique_email().split('@')[0]}@gmial.com"
    fixed = email.replace("@gmial.com", "@gmail.com")
    source = "http://127.0.0.1:5999/articles/night-trains"
    answer = web.post(
        URL,
        data={
            "email": email,
            "newsletters": ["daily", "weekly"],
            "name": "Olena",
            "form": "demo-article",
            "source_url": source,
        },
        headers=HTML,
    )
    assert answer.status_code == 422 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert f"Did you mean {fixed}?" in page
    assert "Yes, this address is right" in page
    forms = _forms(answer)
    assert forms["use-suggestion"]["email"] == [fixed]
    retry = forms["retry"]
    assert retry["email"] == [email] and retry["confirm_address"] == ["true"]
    for fields in forms.values():  # what the reader sent first is sent again
        assert fields["newsletters"] == ["daily", "weekly"]
        assert fields["name"] == ["Olena"] and fields["form"] == ["demo-article"]
        assert fields["source_url"] == [source] and fields["website"] == [""]
        assert "form_stamp" not in fields  # the first form had none: none is added

    confirmed = web.post(URL, data=retry, headers=HTML)
    assert confirmed.status_code == 202, confirmed.get_data(as_text=True)
    assert stored(email)
    taken = web.post(URL, data=forms["use-suggestion"], headers=HTML)
    assert taken.status_code == 202
    assert stored(fixed)


def test_plain_form_page_for_an_unacceptable_address_has_no_checkbox(web):
    answer = web.post(URL, data={"email": "x@gmail.con", "newsletters": "daily"}, headers=HTML)
    assert answer.status_code == 422
    forms = _forms(answer)
    assert forms["use-suggestion"]["email"] == ["x@gmail.com"]
    assert "confirm_address" not in forms["retry"]


_LOCAL = st.text(
    "abcdefghijklmnopqrstuvwxyzABC0123456789!#$%&'*+-/=?^_`{|}~.<>\"юä", min_size=1, max_size=16
)
_DOMAIN = st.sampled_from(
    ["gmial.com", "hotmial.com", "yahooo.com", "gmail.con", "gmail", "ukr.nt"]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(local=_LOCAL, domain=_DOMAIN)
def test_suggestions_are_escaped_where_rendered(web, local, domain):
    email = f"{local}@{domain}"
    answer = web.post(URL, data={"email": email, "newsletters": "daily"}, headers=HTML)
    assert answer.status_code in (202, 422)
    if answer.status_code != 422:
        return
    page = answer.get_data(as_text=True)
    tree = lxml_html.fromstring(answer.data)
    suggestion = tree.get_element_by_id("suggestion", None)
    if suggestion is None:
        return
    fixed = _forms(answer)["use-suggestion"]["email"][0]
    assert suggestion.text_content() == f"Did you mean {fixed}?"
    if set(fixed) & set("&'\""):  # never as typed: always as entities
        assert fixed not in page
