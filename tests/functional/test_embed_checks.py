"""What tells a site developer and a reader at once why a box cannot work (issue 21):
`/embed/newsletters.json?newsletters=` names the slugs that do not exist and says whether the
asking page's origin may sign readers up; an address at a reserved domain (example.com, .test,
localhost) is refused with the reason, in JSON and on the no-JS page, in English and Ukrainian."""

from __future__ import annotations

import html

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.extensions import db
from service.models import Newsletter

URL = "/api/v1/subscriptions"
SITE = "https://news.example.org"
PARTNER = "https://partner.example.com"
NAMES = "/embed/newsletters.json"


@pytest.fixture
def web(sqlite_app, sqlite_app_with):
    db.session.add_all(
        [
            Newsletter(slug="daily", name="Ukraine Daily"),
            Newsletter(slug="partner", name="Partner", allowed_origins=[PARTNER]),
            Newsletter(slug="old", name="Old", archived=True),  # takes no signups
        ]
    )
    db.session.commit()
    return sqlite_app_with(ALLOWED_ORIGINS=[SITE]).test_client()


def config(web, query: str, origin: str | None = None) -> dict:
    response = web.get(NAMES + query, headers={"Origin": origin} if origin else {})
    assert response.status_code == 200
    assert "Origin" in response.headers["Vary"]
    return response.json["_config"]


@pytest.mark.parametrize(
    ("query", "origin", "unknown", "allowed"),
    [
        ("?newsletters=daily", SITE, [], True),
        ("?newsletters=daily,nope,,dayly", SITE, ["nope", "dayly"], True),
        ("?newsletters=partner", PARTNER, [], True),
        ("?newsletters=daily,partner", PARTNER, [], False),  # daily does not list it
        ("?newsletters=daily", "https://stranger.example.net", [], False),
        ("?newsletters=nope", "https://stranger.example.net", ["nope"], False),
        ("?newsletters=daily", None, [], True),  # the service's own page: no Origin
        ("?newsletters=daily,old", SITE, ["old"], True),
        ("?newsletters=", PARTNER, [], True),
    ],
)
def test_the_box_learns_unknown_slugs_and_whether_its_origin_may_sign_up(
    web, query, origin, unknown, allowed
):
    got = config(web, query, origin)
    assert got["unknown"] == unknown and got["origin_allowed"] is allowed


def test_without_the_parameter_the_answer_is_as_before(web):
    got = config(web, "", SITE)
    assert set(got) == {"min_seconds", "captcha"}


def test_a_long_list_is_cut_not_an_error(web):
    got = config(web, "?newsletters=" + ",".join(["x" * 500] * 3 + [f"s{i}" for i in range(50)]))
    assert len(got["unknown"]) == 20 and max(map(len, got["unknown"])) == 100


@pytest.mark.parametrize(
    ("address", "locale", "text"),
    [
        (
            "olena@example.com",
            "en",
            "example.com is reserved for examples and tests: no mail can reach it. "
            "Please enter your own address.",
        ),
        (
            "olena@site.test",
            "uk",
            "site.test зарезервовано для прикладів і тестів: жоден лист туди не дійде. "
            "Будь ласка, введіть власну адресу.",
        ),
    ],
)
def test_a_reserved_domain_is_refused_with_the_reason(web, address, locale, text):
    body = {"email": address, "newsletters": ["daily"], "locale": locale}
    answer = web.post(URL, json=body)
    assert answer.status_code == 422
    assert answer.json == {
        "status": "error",
        "code": "invalid_email",
        "field": "email",
        "reason": "reserved_domain",
        "message": text,
    }
    page = web.post(URL, data=body, headers={"Accept": "text/html"})
    assert page.status_code == 422 and html.escape(text) in page.get_data(as_text=True)


def test_other_refusals_keep_the_general_message(web):
    answer = web.post(URL, json={"email": "not an address", "newsletters": ["daily"]})
    assert answer.json["message"] == "Please, enter correct email address"
    assert "reason" not in answer.json


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(label=st.text(min_size=1, max_size=30), tld=st.sampled_from(["test", "example", "local"]))
def test_what_the_reader_typed_is_text_on_the_page_never_markup(web, label, tld):
    typed = f"a@{label}.{tld}"
    page = web.post(
        URL, data={"email": typed, "newsletters": "daily"}, headers={"Accept": "text/html"}
    )
    assert page.status_code in (400, 422)
    body = page.get_data(as_text=True)
    if set(typed) & set("<>&\"'"):
        assert typed not in body  # escaped wherever it is shown
