"""Newsletters as ops manage them: every field checked, an error names its field and the fix."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.extensions import db
from service.http.schemas.newsletters import Newsletter as NewsletterView
from service.lists import newsletter_index
from service.lists.newsletters import (
    MAX_ORIGINS,
    NewsletterExists,
    NewsletterInvalid,
    clean_fields,
    create_newsletter,
    get_newsletter,
    list_newsletters,
    update_newsletter,
    valid_cron,
)
from service.models import Newsletter


def _invalid(fields: dict, field: str, code: str) -> NewsletterInvalid:
    with pytest.raises(NewsletterInvalid) as raised:
        clean_fields(fields)
    assert (raised.value.field, raised.value.code) == (field, code)
    assert raised.value.message == str(raised.value)
    return raised.value


def test_every_field_is_cleaned_to_its_model_attribute():
    assert clean_fields(
        {
            "name": "  Ukraine Daily ",
            "description": None,
            "schedule": " 0  7 * *   1-5 ",
            "timezone": "Europe/Kyiv",
            "from": "News@KyivIndependent.COM",
            "min_new_articles": 0,
            "allowed_origins": "https://News.example.org/, http://localhost:8080",
            "rate_limit_per_second": 14,
        }
    ) == {
        "name": "Ukraine Daily",
        "description": "",
        "schedule_cron": "0 7 * * 1-5",
        "timezone": "Europe/Kyiv",
        "from_address": "News@KyivIndependent.COM",  # kept as typed
        "min_new_articles": 0,
        "allowed_origins": ["https://news.example.org", "http://localhost:8080"],
        "rate_limit_per_second": 14.0,
    }


def test_an_unknown_field_is_an_error_naming_it():
    _invalid({"name": "x", "colour": "red", "audience": 1}, "audience", "unknown_field")


@pytest.mark.parametrize("value", ["", "   ", None, 7, "x" * 201])
def test_a_name_must_be_short_non_empty_text(value):
    code = "too_long" if value == "x" * 201 else "invalid"
    _invalid({"name": value}, "name", code)


def test_a_description_is_optional_text_up_to_ten_thousand():
    assert clean_fields({"description": "x" * 10000})["description"] == "x" * 10000
    _invalid({"description": "x" * 10001}, "description", "too_long")
    _invalid({"description": ["a"]}, "description", "invalid")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (
            "0 0 7 * * *",
            "6 fields; it needs 5, like '0 7 * * *' (minute hour day month weekday: 07:00 every day) (seconds are not supported).",
        ),
        ("0 0 7 * * * 2030", "7 fields"),
        ("0 7 * *", "4 fields; it needs 5"),
        ("61 7 * * *", "'61 7 * * *' is not a cron expression"),
        ("0 7 * * funday", "is not a cron expression"),
        (["0 7 * * *"], "schedule must be like"),
    ],
)
def test_a_schedule_is_a_five_field_cron(value, says):
    assert says in _invalid({"schedule": value}, "schedule", "invalid_cron").message


def test_an_empty_schedule_means_none_and_valid_cron_counts_fields():
    assert clean_fields({"schedule": ""}) == {"schedule_cron": None}
    assert clean_fields({"schedule": None}) == {"schedule_cron": None}
    assert valid_cron("*/15 6-22 * * mon-fri")
    assert not valid_cron("0 0 7 * * *")


@pytest.mark.parametrize("value", ["Mars/Olympus", "", None, 3, "../../etc/passwd"])
def test_a_timezone_is_an_iana_name(value):
    _invalid({"timezone": value}, "timezone", "invalid_timezone")


@pytest.mark.parametrize("value", ["not an address", "news@localhost", 42])
def test_from_must_be_an_acceptable_address(value):
    _invalid({"from": value}, "from", "invalid_email")


@pytest.mark.parametrize("value", [-1, 1001, 2.5, True, "3", None])
def test_min_new_articles_is_an_integer_from_0_to_1000(value):
    _invalid({"min_new_articles": value}, "min_new_articles", "invalid")


@pytest.mark.parametrize("value", [0, -3, 100_001, True, "5", float("nan"), float("inf")])
def test_rate_limit_is_a_positive_number_up_to_the_cap_or_null(value):
    _invalid({"rate_limit_per_second": value}, "rate_limit_per_second", "invalid")


def test_rate_limit_accepts_fractions_and_null():
    assert clean_fields({"rate_limit_per_second": 0.5}) == {"rate_limit_per_second": 0.5}
    assert clean_fields({"rate_limit_per_second": 100_000}) == {"rate_limit_per_second": 100000.0}
    assert clean_fields({"rate_limit_per_second": None}) == {"rate_limit_per_second": None}


def test_allowed_origins_are_deduplicated_bounded_and_each_an_origin():
    assert clean_fields({"allowed_origins": None}) == {"allowed_origins": []}
    assert clean_fields({"allowed_origins": ["https://A.org", "https://a.org/"]}) == {
        "allowed_origins": ["https://a.org"]
    }
    _invalid({"allowed_origins": {"https://a.org": 1}}, "allowed_origins", "invalid")
    too_many = [f"https://n{i}.example.org" for i in range(MAX_ORIGINS + 1)]
    _invalid({"allowed_origins": too_many}, "allowed_origins", "invalid")
    error = _invalid(
        {"allowed_origins": ["https://a.org", "*"]}, "allowed_origins", "invalid_origin"
    )
    assert "'*'" in error.message


def test_create_checks_slug_and_name_and_refuses_a_second_slug(unit_app):
    for slug in ("Daily", "-daily", "daily-", "d" * 65, "", None, "da ily"):
        with pytest.raises(NewsletterInvalid) as raised:
            create_newsletter(slug, {"name": "Daily"})
        assert raised.value.field == "slug"
    with pytest.raises(NewsletterInvalid) as raised:
        create_newsletter("daily", {})
    assert (raised.value.field, raised.value.code) == ("name", "required")
    daily = create_newsletter("daily", {"name": "Daily", "schedule": "0 7 * * *"})
    with pytest.raises(NewsletterExists):
        create_newsletter("daily", {"name": "Another"})
    assert [n.slug for n in list_newsletters()] == ["daily"]
    assert get_newsletter("daily") is daily and get_newsletter("weekly") is None


def test_the_index_holds_older_allowlists_as_browsers_send_them(unit_app):
    """Entries an older version stored as typed still match the Origin a browser sends."""
    db.session.add(
        Newsletter(
            slug="old",
            name="Old",
            allowed_origins=["https://News.Example.org:443", "https://[::1]:8443", "not an origin"],
        )
    )
    db.session.commit()
    newsletter_index.forget()
    assert newsletter_index.newsletters(["old"])["old"].allowed_origins == {
        "https://news.example.org",
        "https://[::1]:8443",
        "not an origin",
    }


def test_update_changes_only_the_given_fields_and_the_index_sees_it(unit_app):
    daily = create_newsletter("daily", {"name": "Daily", "timezone": "Europe/Kyiv"})
    assert newsletter_index.newsletters(["daily"])["daily"].allowed_origins == frozenset()
    update_newsletter(daily, {"name": "Ukraine Daily", "allowed_origins": ["https://a.org"]})
    db.session.expire_all()
    view = NewsletterView.of(get_newsletter("daily")).model_dump(mode="json", by_alias=True)
    assert (view["name"], view["timezone"], view["schedule"]) == (
        "Ukraine Daily",
        "Europe/Kyiv",
        None,
    )
    assert newsletter_index.newsletters()["daily"].allowed_origins == {"https://a.org"}
    with pytest.raises(NewsletterInvalid):
        update_newsletter(daily, {"timezone": "Nowhere"})
    db.session.expire_all()
    assert get_newsletter("daily").timezone == "Europe/Kyiv"


def test_the_content_fields_are_cleaned_to_filters_feed_and_flags():
    assert clean_fields(
        {
            "sections": [" Culture", "Books", "Culture", ""],
            "tags": "art, film",
            "feed_url": "https://partner.example.org/feed.xml",
            "is_public": False,
            "archived": True,
            "late_articles": "skip",
        }
    ) == {
        "filters.sections": ["Culture", "Books"],
        "filters.tags": ["art", "film"],
        "feed_url": "https://partner.example.org/feed.xml",
        "is_public": False,
        "archived": True,
        "late_articles": "skip",
    }
    assert clean_fields({"sections": None, "feed_url": ""}) == {
        "filters.sections": [],
        "feed_url": None,
    }


@pytest.mark.parametrize(
    "field, value, code",
    [
        ("sections", 7, "invalid"),
        ("sections", ["x" * 101], "invalid"),
        ("tags", ["ok"] * 51, "invalid"),
        ("tags", [1], "invalid"),
        ("feed_url", "feed.example.org/rss", "invalid_url"),
        ("feed_url", "javascript:alert(1)", "invalid_url"),
        ("feed_url", "http://[::1/feed", "invalid_url"),
        ("feed_url", "https://example.org/feed\n.xml", "invalid_url"),
        ("feed_url", "https://example.org/" + "x" * 2000, "invalid_url"),
        ("is_public", 0, "invalid"),
        ("archived", "false", "invalid"),
        ("late_articles", "Include", "invalid"),
    ],
)
def test_a_bad_content_field_is_named(field, value, code):
    _invalid({field: value}, field, code)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.from_regex(r"https?://[^/]*/.*", fullmatch=True)))
def test_any_text_as_feed_url_is_an_http_url_or_refused_by_name(text):
    try:
        cleaned = clean_fields({"feed_url": text})["feed_url"]
    except NewsletterInvalid as exc:
        assert (exc.field, exc.code) == ("feed_url", "invalid_url")
        return
    if text == "":
        assert cleaned is None
        return
    parts = urlsplit(cleaned)
    assert parts.scheme in ("http", "https") and parts.hostname and cleaned == text
    assert all(char.isprintable() and not char.isspace() for char in cleaned)


def test_sections_and_tags_live_in_filters_beside_the_others(unit_app):
    newsletter = create_newsletter("culture", {"name": "Culture", "sections": ["Culture"]})
    newsletter.filters = {**newsletter.filters, "authors": ["Kate Tsurkan"]}
    db.session.commit()
    update_newsletter(newsletter, {"tags": ["art"]})
    assert newsletter.filters == {
        "sections": ["Culture"],
        "authors": ["Kate Tsurkan"],
        "tags": ["art"],
    }
    update_newsletter(newsletter, {"sections": []})
    assert newsletter.filters == {"authors": ["Kate Tsurkan"], "tags": ["art"]}
    shown = NewsletterView.of(newsletter).model_dump(mode="json", by_alias=True)
    assert (shown["sections"], shown["tags"], shown["late_articles"]) == ([], ["art"], "include")
    assert (shown["is_public"], shown["archived"], shown["feed_url"]) == (True, False, None)


def test_an_archived_newsletter_takes_no_signups(unit_app):
    newsletter = create_newsletter("retired", {"name": "Retired"})
    assert "retired" in newsletter_index.newsletters(["retired"])
    update_newsletter(newsletter, {"archived": True})
    assert "retired" not in newsletter_index.newsletters(["retired"])
