"""Reader-facing texts through gettext catalogues (issue 15): every text has its Ukrainian
translation, the template is in step with the code, the contract's English texts are
unchanged, pages and mail come out in the reader's language (newsletter names included),
Ukrainian's three plural forms, and catalogues compiled when the app starts."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from babel.messages.pofile import read_po
from flask_babel import force_locale
from lxml import html as lxml_html

from service import create_app
from service.access.keys import create_api_key
from service.config import ROOT, ConfigError
from service.extensions import db
from service.i18n import LOCALES, compile_catalogues, confirmation_sent
from service.leaving.links import preferences_token, unsubscribe_token
from service.lists.newsletters import NewsletterInvalid, clean_fields
from service.mail import transport
from service.models import Newsletter, Subscriber, utcnow
from service.seed import seed_demo
from service.signup.confirm import confirmation_token, send_confirmation_email
from tests.support.readers import add_reader

TRANSLATIONS = ROOT / "translations"
PYBABEL = Path(sys.executable).with_name("pybabel")
CONTRACT = [
    "Please, enter correct email address",
    "Thank you for signing up for this newsletter. We've sent you a confirmation email.",
    "Successfully subscribed",
]
UK_NAME = "Щоденні новини з України"
UK_DESCRIPTION = "Найважливіше за день, щоранку."
HTML = {"Accept": "text/html"}


def catalog(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def ids(messages) -> set:
    return {(m.context, m.id) for m in messages if m.id}


# -- the catalogues ---------------------------------------------------------------------------


def test_every_text_has_a_ukrainian_translation():
    uk = catalog(TRANSLATIONS / "uk/LC_MESSAGES/messages.po")
    template = catalog(TRANSLATIONS / "messages.pot")
    assert ids(uk) == ids(template)
    assert len(ids(template)) > 80
    for message in uk:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(s.strip() for s in strings), message.id
        assert len(strings) == (uk.num_plurals if message.pluralizable else 1), message.id
        assert not list(message.check(uk)), message.id  # placeholders agree with the msgid


def test_ukrainian_has_three_plural_forms():
    uk = catalog(TRANSLATIONS / "uk/LC_MESSAGES/messages.po")
    assert uk.num_plurals == 3
    assert "nplurals=3;" in uk.plural_forms


def test_the_template_is_up_to_date_with_code_and_templates(tmp_path):
    """Re-extract as `make messages` does: a text added or changed without it fails here."""
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [str(PYBABEL), "-q", "extract", "-F", "babel.cfg", "-o", str(fresh), "."],
        cwd=ROOT,
        check=True,
    )
    extracted, committed = ids(catalog(fresh)), ids(catalog(TRANSLATIONS / "messages.pot"))
    assert extracted - committed == set(), "run `make messages` and translate the new texts"
    assert committed - extracted == set(), "run `make messages` to drop texts no longer used"


def test_the_contract_texts_are_msgids_in_english():
    template = {m.id for m in catalog(TRANSLATIONS / "messages.pot")}
    assert set(CONTRACT) <= template


def test_every_locale_is_a_catalogue():
    assert LOCALES == ("en", "uk")


# -- plural forms -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "words"),
    [
        (1, "на цю розсилку."),
        (2, "на 2 розсилки."),
        (5, "на 5 розсилок."),
        (11, "на 11 розсилок."),
        (21, "на 21 розсилку."),
        (22, "на 22 розсилки."),
    ],
)
def test_ukrainian_plural_forms(sqlite_app, count, words):
    with force_locale("uk"):
        text = confirmation_sent(count)
    assert text == f"Дякуємо за підписку {words} Ми надіслали вам лист для підтвердження."


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (1, CONTRACT[1]),
        (2, "Thank you for signing up for these 2 newsletters. We've sent you a confirmation email."),
        (21, "Thank you for signing up for these 21 newsletters. "
         "We've sent you a confirmation email."),
    ],
)  # fmt: skip
def test_english_plural_forms(sqlite_app, count, text):
    assert confirmation_sent(count) == text


# -- through the real views and mail ----------------------------------------------------------


@pytest.fixture
def daily(sqlite_app):
    newsletter = Newsletter(
        slug=f"d-{uuid.uuid4().hex[:8]}",
        name="Ukraine Daily",
        description="The day's most important news.",
        translations={"uk": {"name": UK_NAME, "description": UK_DESCRIPTION}},
    )
    db.session.add(newsletter)
    db.session.commit()
    return newsletter


def reader(newsletter: Newsletter, locale: str, status: str = "pending") -> Subscriber:
    return add_reader(newsletter, status=status, locale=locale)


def text_of(body: bytes) -> str:
    return " ".join(lxml_html.fromstring(body).text_content().split())


def test_the_contract_texts_come_out_identical_in_english(sqlite_app, daily):
    client = sqlite_app.test_client()
    bad = client.post(
        "/api/v1/subscriptions", json={"email": "not an address", "newsletters": [daily.slug]}
    )
    assert bad.status_code == 422 and bad.json["message"] == CONTRACT[0]
    good = client.post(
        "/api/v1/subscriptions", json={"email": "reader@gmail.com", "newsletters": [daily.slug]}
    )
    assert good.status_code == 202 and good.json["message"] == CONTRACT[1]
    confirmed = client.post(f"/confirm/{confirmation_token(reader(daily, 'en'))}", headers=HTML)
    assert confirmed.status_code == 200
    assert lxml_html.fromstring(confirmed.data).findtext(".//h1") == CONTRACT[2]


def test_the_form_shows_the_newsletter_in_ukrainian(sqlite_app, daily):
    page = sqlite_app.test_client().get(f"/forms/{daily.slug}?locale=uk")
    assert page.status_code == 200
    tree = lxml_html.fromstring(page.data)
    assert tree.findtext(".//h1") == UK_NAME
    assert UK_DESCRIPTION in text_of(page.data)
    assert tree.find(".//button").text_content().strip() == "Підписатися"
    assert "Ukraine Daily" not in text_of(page.data)
    english = sqlite_app.test_client().get(f"/forms/{daily.slug}?locale=en")
    assert lxml_html.fromstring(english.data).findtext(".//h1") == "Ukraine Daily"


def test_the_embed_names_follow_the_locale(sqlite_app, daily):
    client = sqlite_app.test_client()
    uk = client.get("/embed/newsletters.json?locale=uk").json[daily.slug]
    assert uk == {"name": UK_NAME, "description": UK_DESCRIPTION}
    en = client.get("/embed/newsletters.json?locale=en").json[daily.slug]
    assert en == {"name": "Ukraine Daily", "description": "The day's most important news."}
    by_header = client.get("/embed/newsletters.json", headers={"Accept-Language": "uk-UA"})
    assert by_header.json[daily.slug]["name"] == UK_NAME
    assert "Accept-Language" in by_header.headers["Vary"]


def test_an_untranslated_newsletter_falls_back_to_english(sqlite_app, daily):
    daily.translations = {"uk": {"name": UK_NAME}}
    db.session.commit()
    page = sqlite_app.test_client().get(f"/forms/{daily.slug}?locale=uk")
    assert "The day's most important news." in text_of(page.data)


def test_the_preferences_page_in_ukrainian(sqlite_app, daily):
    subscriber = reader(daily, "uk", "confirmed")
    page = sqlite_app.test_client().get(f"/preferences/{preferences_token(subscriber.id)}")
    assert page.status_code == 200
    text = text_of(page.data)
    assert lxml_html.fromstring(page.data).findtext(".//h1") == "Ваші розсилки"
    assert UK_NAME in text and UK_DESCRIPTION in text and "Зберегти вибір" in text


def test_the_unsubscribe_page_in_the_readers_stored_locale(sqlite_app, daily):
    subscriber = reader(daily, "uk", "confirmed")
    page = sqlite_app.test_client().get(
        f"/unsubscribe/{unsubscribe_token(subscriber.id, daily.id)}",
        headers={"Accept-Language": "en"},
    )
    assert page.status_code == 200
    assert f"Більше не надсилати {UK_NAME} на {subscriber.email}?" in text_of(page.data)


def test_an_error_page_in_ukrainian(sqlite_app):
    page = sqlite_app.test_client().get("/no-such-page", headers={**HTML, "Accept-Language": "uk"})
    assert page.status_code == 404
    assert lxml_html.fromstring(page.data).findtext(".//h1") == "Такої сторінки не існує."


def test_the_confirmation_email_in_the_readers_locale(sqlite_app, daily):
    """Rendered as a worker does (no request), in the locale the reader signed up with."""
    subscriber = reader(daily, "uk")
    send_confirmation_email(subscriber.id)
    sent = email.message_from_bytes(transport().messages[-1].message, policy=email.policy.default)
    assert str(sent["Subject"]) == f"Підтвердіть підписку на {UK_NAME}"
    text = sent.get_body(("plain",)).get_content()
    assert text.startswith("Вітаємо,")
    assert f"Підтвердіть, будь ласка, що хочете отримувати {UK_NAME} на цю адресу." in text
    html = sent.get_body(("html",)).get_content()
    assert 'lang="uk"' in html and "Підтвердити підписку</a>" in html
    english = reader(daily, "en")
    send_confirmation_email(english.id)
    sent = email.message_from_bytes(transport().messages[-1].message, policy=email.policy.default)
    assert str(sent["Subject"]) == "Confirm your subscription to Ukraine Daily"


@pytest.mark.parametrize(
    ("days", "locale", "in_email", "on_page"),
    [
        (1, "uk", "Посилання дійсне 1 день.", "Посилання дійсні 1 день."),
        (3, "uk", "Посилання дійсне 3 дні.", "Посилання дійсні 3 дні."),
        (7, "uk", "Посилання дійсне 7 днів.", "Посилання дійсні 7 днів."),
        (21, "uk", "Посилання дійсне 21 день.", "Посилання дійсні 21 день."),
        (1, "en", "This link is valid for 1 day.", "Confirmation links are valid for 1 day."),
        (7, "en", "This link is valid for 7 days.", "Confirmation links are valid for 7 days."),
    ],
)
def test_the_confirmation_links_lifetime_in_plural_forms(
    sqlite_app, daily, days, locale, in_email, on_page
):
    """Said in the email, and again on the page an expired link opens."""
    sqlite_app.config["CONFIRM_TOKEN_MAX_AGE"] = days * 86400
    subscriber = reader(daily, locale)
    send_confirmation_email(subscriber.id)
    sent = email.message_from_bytes(transport().messages[-1].message, policy=email.policy.default)
    assert in_email in sent.get_body(("plain",)).get_content()
    assert in_email in sent.get_body(("html",)).get_content()
    token = confirmation_token(subscriber)
    with time_machine.travel(utcnow() + timedelta(days=days, seconds=60)):
        page = sqlite_app.test_client().get(
            f"/confirm/{token}", headers={**HTML, "Accept-Language": locale}
        )
    assert page.status_code == 410
    assert on_page in page.get_data(as_text=True)


# -- newsletter translations as ops set them --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"de": {"name": "Täglich"}}, "translations.de"),
        ({"en": {"name": "Daily"}}, "translations.en"),
        ({"uk": {"title": "x"}}, "translations.uk"),
        ({"uk": "Щоденні"}, "translations.uk"),
        ({"uk": {"name": 5}}, "translations.uk.name"),
        ({"uk": {"name": "я" * 201}}, "translations.uk.name"),
        ({"uk": {"description": "я" * 10001}}, "translations.uk.description"),
        (["uk"], "translations"),
    ],
)
def test_bad_translations_are_refused_naming_the_field(sqlite_app, value, field):
    with pytest.raises(NewsletterInvalid) as refused:
        clean_fields({"translations": value})
    assert refused.value.field == field


def test_translations_through_the_admin_api(sqlite_app):
    key = create_api_key("i18n test")
    auth = {"Authorization": f"Bearer {key}"}
    client = sqlite_app.test_client()
    slug = f"t-{uuid.uuid4().hex[:6]}"
    body = {"slug": slug, "name": "Weekly", "translations": {"uk": {"name": " Щотижня "}}}
    created = client.post("/api/v1/newsletters", json=body, headers=auth)
    assert created.status_code == 201, created.json
    assert created.json["translations"] == {"uk": {"name": "Щотижня"}}
    bad = client.patch(
        f"/api/v1/newsletters/{slug}", json={"translations": {"xx": {}}}, headers=auth
    )
    assert bad.status_code == 422 and bad.json["field"] == "translations.xx"
    assert "uk" in bad.json["message"]
    patched = client.patch(
        f"/api/v1/newsletters/{slug}",
        json={"translations": {"uk": {"name": "Тижневик", "description": "Раз на тиждень"}}},
        headers=auth,
    )
    assert patched.json["translations"]["uk"]["description"] == "Раз на тиждень"
    page = client.get(f"/forms/{slug}?locale=uk")
    assert lxml_html.fromstring(page.data).findtext(".//h1") == "Тижневик"


def test_translations_from_the_cli(sqlite_app):
    runner = sqlite_app.test_cli_runner()
    slug = f"c-{uuid.uuid4().hex[:6]}"
    made = runner.invoke(
        args=["newsletters", "create", slug, "--name", "Daily", "--translation", "uk:name=Щодня"]
    )
    assert made.exit_code == 0, made.output
    changed = runner.invoke(
        args=["newsletters", "update", slug, "--translation", "uk:description=Щоранку"]
    )
    assert changed.exit_code == 0, changed.output
    db.session.expire_all()
    stored = db.session.scalar(db.select(Newsletter).where(Newsletter.slug == slug))
    assert stored.translations == {"uk": {"name": "Щодня", "description": "Щоранку"}}
    wrong = runner.invoke(args=["newsletters", "update", slug, "--translation", "uk-name"])
    assert wrong.exit_code == 2 and "LOCALE:FIELD=TEXT" in wrong.output
    unknown = runner.invoke(args=["newsletters", "update", slug, "--translation", "de:name=x"])
    assert unknown.exit_code == 2 and "--translation" in unknown.output


def test_the_demo_newsletters_have_ukrainian_names(sqlite_app):
    seed_demo()
    page = sqlite_app.test_client().get("/forms/daily?locale=uk")
    assert lxml_html.fromstring(page.data).findtext(".//h1") == "Щоденні новини з України"
    other = db.session.scalar(db.select(Newsletter).where(Newsletter.slug == "explaining-ukraine"))
    assert other.name_in("uk") != other.name


# -- compiled catalogues ----------------------------------------------------------------------


def copy_translations(tmp_path: Path) -> Path:
    directory = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, directory, ignore=shutil.ignore_patterns("*.mo"))
    return directory


def app_on(directory: Path, tmp_path: Path):
    return create_app(
        {
            "INSTANCE_PATH": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            "BABEL_TRANSLATION_DIRECTORIES": str(directory),
        }
    )


def test_a_missing_or_stale_catalogue_is_compiled_when_the_app_starts(tmp_path):
    directory = copy_translations(tmp_path)
    mo = directory / "uk/LC_MESSAGES/messages.mo"
    with app_on(directory, tmp_path).test_request_context("/?locale=uk"):
        assert mo.exists()
        assert confirmation_sent(5).startswith("Дякуємо за підписку на 5 розсилок.")
    assert compile_catalogues(directory) == []  # up to date: nothing written

    po = mo.with_suffix(".po")
    po.write_text(po.read_text("utf-8").replace("розсилок. Ми", "розсилок! Ми"), "utf-8")
    earlier = po.stat().st_mtime - 60
    os.utime(mo, (earlier, earlier))  # the .mo of an older .po
    with app_on(directory, tmp_path).test_request_context("/?locale=uk"):
        assert confirmation_sent(5).startswith("Дякуємо за підписку на 5 розсилок! Ми")
    assert mo.stat().st_mtime >= po.stat().st_mtime
    assert mo.stat().st_mode & 0o644 == 0o644  # readable by the other processes' users
    assert not list(mo.parent.glob("*.tmp"))


def test_an_unreadable_catalogue_stops_the_app_with_a_clear_error(tmp_path):
    directory = copy_translations(tmp_path)
    po = directory / "uk/LC_MESSAGES/messages.po"
    po.write_text(po.read_text(encoding="utf-8") + '\nmsgid "broken\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"messages\.po.*pybabel compile"):
        app_on(directory, tmp_path)
