"""The hosted signup pages a reader without JavaScript meets: a way back to the site that is
never a hostile link (issue 13 item 10, issue 14), success text in the right plural form, and
placeholders the service itself would accept."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from service.addresses import InvalidEmail, parse_address
from tests.conftest import apply_signups_here, unique_email

URL = "/api/v1/subscriptions"
HTML = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
SITE = "https://news.example.org"
OWN = "http://127.0.0.1:5999"  # PUBLIC_URL of the test stack
ALLOWED = {SITE, OWN}  # the service's own origin is PUBLIC_URL's, never the Host's


@pytest.fixture
def app(sqlite_app_with):
    app = sqlite_app_with(SIGNUP_MIN_SECONDS=0, ALLOWED_ORIGINS=[SITE])
    with app.app_context():
        from service.extensions import db
        from service.models import Newsletter

        for slug, name in (("daily", "Ukraine Daily"), ("weekly", "Weekly"), ("war", "War")):
            db.session.add(Newsletter(slug=slug, name=name))
        db.session.commit()
        yield app


@pytest.fixture
def web(app):
    return app.test_client()


def _links(answer) -> list[str]:
    return [a.get("href") for a in lxml_html.fromstring(answer.data).iter("a")]


def _back(answer) -> str:
    return lxml_html.fromstring(answer.data).get_element_by_id("back").get("href")


# --- the way back ------------------------------------------------------------------------------


def test_thank_you_page_links_back_to_the_allowed_page_it_came_from(web):
    article = f"{SITE}/news/2024/night-trains?ref=box#signup"
    answer = web.post(
        URL,
        data={"email": unique_email(), "newsletters": "daily"},
        headers={**HTML, "Referer": article},
    )
    assert answer.status_code == 202
    assert _back(answer) == article


def test_thank_you_page_prefers_the_forms_source_url(web):
    article = f"{SITE}/a"
    answer = web.post(
        URL,
        data={"email": unique_email(), "newsletters": "daily", "source_url": article},
        headers={**HTML, "Referer": f"{SITE}/other"},
    )
    assert _back(answer) == article


@pytest.mark.parametrize(
    "source",
    [
        "javascript:alert(1)",
        "https://evil.example.net/phish",
        f"{SITE}.evil.example.net/",
        f"https://user@{SITE.removeprefix('https://')}/",
        "https://evil.example.net\\@news.example.org/",
        "//evil.example.net/",
        "data:text/html,<script>alert(1)</script>",
    ],
)
def test_thank_you_page_falls_back_to_the_site_home(web, source):
    answer = web.post(
        URL,
        data={"email": unique_email(), "newsletters": "daily", "source_url": source},
        headers=HTML,
    )
    assert answer.status_code == 202
    assert _back(answer) == f"{SITE}/"


def test_successfully_subscribed_links_back_to_the_signup_page(web, app):
    from service.extensions import db
    from service.models import Subscriber
    from service.signup.confirm import confirmation_token

    email, article = unique_email(), f"{SITE}/news/kharkiv"
    web.post(URL, data={"email": email, "newsletters": "daily", "source_url": article})
    apply_signups_here()
    subscriber = db.session.query(Subscriber).filter_by(email_key=email.lower()).one()
    answer = web.post(f"/confirm/{confirmation_token(subscriber)}", headers=HTML)
    assert answer.status_code == 200 and "Successfully subscribed" in answer.get_data(as_text=True)
    assert _back(answer) == article


_SCHEMES = st.sampled_from(
    ["http", "https", "javascript", "JaVaScRiPt", "data", "vbscript", "ftp", "", " javascript"]
)
_HOSTS = st.sampled_from(
    [
        SITE.split("//")[1],
        "evil.example.net",
        "127.0.0.1:5999",
        "localhost",
        "news.example.org.evil",
    ]
)
_JUNK = st.lists(st.sampled_from([*"@\\/:\t #?%&;'\"<>\xa0", "%0a", "&#x3A;"]), max_size=3).map(
    "".join
)
_STRUCTURED = st.builds(
    lambda scheme, sep, junk, host, rest: f"{scheme}{sep}{junk}{host}{rest}",
    _SCHEMES,
    st.sampled_from(["://", ":", ":/", ":///", "//", ":\\\\"]),
    _JUNK,
    _HOSTS,
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20),
)
# What a Referer header can carry (Latin-1, no CR/LF).
_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(referer=_STRUCTURED | _HEADER_TEXT, kind=st.sampled_from(["error", "retry", "thanks"]))
@example(referer="javascript:alert(document.cookie)", kind="error")
@example(referer="https://evil.example.net\\@news.example.org/", kind="retry")
def test_pages_link_only_to_allowed_http_pages_whatever_the_referer(web, referer, kind):
    email = {"error": "", "retry": "x@gmial.com", "thanks": unique_email()}[kind]
    answer = web.post(
        URL, data={"email": email, "newsletters": "daily"}, headers={**HTML, "Referer": referer}
    )
    assert answer.status_code == {"error": 422, "retry": 422, "thanks": 202}[kind]
    links = _links(answer)
    assert links, "every answer page offers a way back"
    for href in links:
        assert href == href.strip() and not any(c in href for c in "\\\t\n\r"), href
        parts = urlsplit(href)
        assert parts.scheme in ("http", "https"), href
        assert f"{parts.scheme}://{parts.netloc}" in ALLOWED, href
        assert parts.username is None, href


# --- plural forms ------------------------------------------------------------------------------


# Each form of the plural itself (1/2/5/11/21/22 in Ukrainian) is tested in tests/unit/test_i18n.py.
SINGULAR = {
    "en": "Thank you for signing up for this newsletter. We've sent you a confirmation email.",
    "uk": "Дякуємо за підписку на цю розсилку. Ми надіслали вам лист для підтвердження.",
}


@pytest.mark.parametrize(("locale", "words"), [("en", "these 2 newsletters"), ("uk", "2 розсилки")])
def test_two_newsletters_picked_get_the_plural_everywhere(web, locale, words):
    data = {"email": unique_email(), "newsletters": ["daily", "weekly"], "locale": locale}
    assert words in web.post(URL, json=data).json["message"]
    data["email"] = unique_email()
    page = web.post(URL, data=data, headers=HTML)
    assert page.status_code == 202 and words in page.get_data(as_text=True)
    one = web.post(URL, json={**data, "email": unique_email(), "newsletters": ["daily"]})
    assert one.json["message"] == SINGULAR[locale]


def test_the_same_slug_twice_is_one_newsletter(web):
    data = {"email": unique_email(), "newsletters": ["daily", "daily"]}
    assert "this newsletter" in web.post(URL, json=data).json["message"]


# --- placeholders ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/subscribe", "/forms/daily", "/manage"])
def test_no_placeholder_is_an_address_the_service_refuses(web, path):
    answer = web.get(path, headers=HTML)
    assert answer.status_code == 200
    for field in lxml_html.fromstring(answer.data).iter("input"):
        placeholder = field.get("placeholder")
        if not placeholder or "@" not in placeholder:
            continue
        try:
            parse_address(placeholder)
        except InvalidEmail as exc:
            pytest.fail(f"{path}: placeholder {placeholder!r} is refused ({exc})")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:5999", "evil.example.net"])
@pytest.mark.parametrize("referer", [f"{OWN}{URL}", f"{OWN}{URL}?x=1", "http://localhost" + URL])
def test_a_repost_from_our_own_answer_page_links_home_not_to_the_api(web, host, referer):
    """Our own page is known by PUBLIC_URL, whatever Host the request names."""
    answer = web.post(
        URL,
        data={"email": unique_email(), "newsletters": "daily"},
        headers={**HTML, "Referer": referer, "Host": host},
    )
    assert answer.status_code == 202
    assert _back(answer) == f"{SITE}/"
