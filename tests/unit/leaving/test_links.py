"""The links in every email: signed per reader (and newsletter), never guessable, never stale."""

from __future__ import annotations

import pytest

from service.extensions import db
from service.leaving.links import (
    ONE_CLICK_BODY,
    ReaderGone,
    list_unsubscribe_headers,
    load_preferences,
    load_unsubscribe,
    preferences_token,
    preferences_url,
    unsubscribe_token,
    unsubscribe_url,
)
from service.tokens import TokenInvalid, token_service


def test_an_unsubscribe_token_names_its_reader_newsletter_and_subscription(
    add_reader, daily, weekly
):
    reader = add_reader("olena@gmail.com", daily)
    target = load_unsubscribe(unsubscribe_token(reader.id, daily.id))
    assert (target.subscriber, target.newsletter) == (reader, daily)
    assert target.subscription is reader.subscriptions[0]
    other = load_unsubscribe(unsubscribe_token(reader.id, weekly.id))
    assert other.newsletter == weekly and other.subscription is None


def test_a_token_of_another_purpose_or_tampered_is_refused(add_reader, daily):
    reader = add_reader("olena@gmail.com", daily)
    with pytest.raises(TokenInvalid):
        load_unsubscribe(preferences_token(reader.id))  # a preference link cannot unsubscribe
    with pytest.raises(TokenInvalid):
        load_preferences(unsubscribe_token(reader.id, daily.id))
    token = unsubscribe_token(reader.id, daily.id)
    with pytest.raises(TokenInvalid):
        load_unsubscribe(token[:-3] + ("abc" if token[-3:] != "abc" else "xyz"))


def test_a_signed_but_malformed_payload_is_invalid_not_a_crash(add_reader, daily):
    reader = add_reader("olena@gmail.com", daily)
    forged = token_service("unsubscribe").dumps({"s": str(reader.id), "n": daily.id})
    with pytest.raises(TokenInvalid, match="malformed"):
        load_unsubscribe(forged)
    with pytest.raises(TokenInvalid, match="malformed"):
        load_preferences(token_service("preferences").dumps({}))


def test_a_link_of_an_erased_reader_says_the_reader_is_gone(add_reader, daily):
    reader = add_reader("olena@gmail.com", daily)
    token, pref = unsubscribe_token(reader.id, daily.id), preferences_token(reader.id)
    assert load_preferences(pref) == reader
    db.session.delete(reader)
    db.session.commit()
    with pytest.raises(ReaderGone, match="subscriber"):
        load_unsubscribe(token)
    with pytest.raises(ReaderGone):
        load_preferences(pref)


def test_urls_are_absolute_on_the_public_url(unit_app):
    assert unsubscribe_url("T") == "https://newsletters.example.org/unsubscribe/T"
    assert preferences_url("T") == "https://newsletters.example.org/preferences/T"


def test_list_unsubscribe_is_one_click_with_an_optional_mailto(unit_app):
    unit_app.config["UNSUBSCRIBE_MAILTO"] = ""
    assert list_unsubscribe_headers("T") == {
        "List-Unsubscribe": "<https://newsletters.example.org/unsubscribe/T>",
        "List-Unsubscribe-Post": ONE_CLICK_BODY,
    }
    unit_app.config["UNSUBSCRIBE_MAILTO"] = "leave@news.example.org"
    headers = list_unsubscribe_headers("T")
    assert headers["List-Unsubscribe"] == (
        "<https://newsletters.example.org/unsubscribe/T>, "
        "<mailto:leave@news.example.org?subject=unsubscribe-T>"
    )
    assert ONE_CLICK_BODY == "List-Unsubscribe=One-Click"  # RFC 8058's exact body
