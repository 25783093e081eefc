"""Reader-facing messages in English and Ukrainian, and picking the reader's language.

The catalog is small and lives in code so that the web process and the workers share it
without a compile step; `t(key, locale)` falls back to English for a missing translation.
Messages that name a count live in `PLURALS`, one text per CLDR plural category of the locale
(English: one, other; Ukrainian: one, few, many, other), read by `tn(key, count, locale)`;
Babel's CLDR data picks the category, and an exact `=N` text (ICU's form) wins over it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from babel import Locale

LOCALES = ("en", "uk")
DEFAULT_LOCALE = "en"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "confirmation_sent": (
            "Thank you for signing up for this newsletter. We've sent you a confirmation email."
        ),
        "invalid_email": "Please, enter correct email address",
        "did_you_mean": "Did you mean {suggestion}?",
        "use_suggestion": "Use {suggestion}",
        "address_is_right": "Yes, this address is right",
        "email_placeholder": "Your email address",
        "required": "Please enter your email address",
        "newsletters_required": "Please choose at least one newsletter",
        "unknown_newsletter": "This newsletter does not exist (any more). Please reload the page.",
        "rate_limited": "Too many attempts. Please wait a few minutes and try again.",
        "bad_request": "We could not read this request. Please reload the page and try again.",
        "too_large": "This request is too large. Please shorten it and try again.",
        "captcha_failed": (
            "We could not confirm that you are a person. Please complete the check and try again."
        ),
        "captcha_unavailable": (
            "We cannot check that you are a person right now. Please try again in a minute."
        ),
        "origin_not_allowed": (
            "This site may not sign readers up to this newsletter. "
            "Please subscribe on our own website."
        ),
        "not_found": "This page does not exist.",
        "server_error": "Something went wrong on our side. Please try again in a minute.",
        "subscribed": "Successfully subscribed",
        "subscribed_detail": "You will receive {newsletters}. Every email has a link to unsubscribe.",
        "confirm_title": "Confirm your subscription",
        "confirm_intro": "One click and you're in: confirm that {email} wants to receive {newsletters}.",
        "confirm_button": "Confirm my subscription",
        "token_invalid_title": "This link is not valid",
        "token_invalid": (
            "The link may have been cut or changed. Enter your address and we will send a new one."
        ),
        "token_expired_title": "This link has expired",
        "token_expired": "Confirmation links are valid for {days} days. Ask for a new one below.",
        "token_stale_title": "This link has already been used",
        "token_stale": (
            "Your subscription has changed since this link was sent. "
            "Enter your address to get a new one."
        ),
        "send_new_link": "Send me a new link",
        "new_link_sent": "If this address can subscribe, a new confirmation email is on its way.",
        "email_label": "Email address",
        "subscribe_button": "Subscribe",
        "signup_title": "Subscribe to our newsletters",
        "back_to_site": "Back to the site",
        "email_confirm_subject": "Confirm your subscription to {newsletters}",
        "email_confirm_greeting": "Hello{name_part},",
        "email_confirm_body": (
            "Please confirm that you want to receive {newsletters} at this address."
        ),
        "email_confirm_button": "Confirm subscription",
        "email_confirm_ignore": (
            "If you did not sign up, ignore this email: without confirmation you will not be "
            "subscribed and we will not write again."
        ),
        "email_confirm_expiry": "This link is valid for {days} days.",
        "digest_top_story": "Top story",
        "digest_news_feed": "News Feed",
        "digest_editors_picks": "Editors' Picks",
        "digest_read_more": "Read more",
        "digest_view_in_browser": "View in browser",
        "digest_preferences": "Manage preferences",
        "digest_unsubscribe": "Unsubscribe",
        "digest_archive": "Past issues",
        "digest_why": "You receive {newsletter} because you subscribed to it.",
        "archive_title": "{newsletter}: past issues",
        "archive_empty": "No issues have been sent yet.",
        "archive_back": "All issues",
        # -- unsubscribe, preferences, manage link (issue 6)
        "unsub_title": "Unsubscribe",
        "unsub_intro": "Stop sending {newsletter} to {email}?",
        "unsub_button": "Unsubscribe",
        "unsub_all_button": "Unsubscribe from everything",
        "unsub_preferences_link": "Choose which newsletters to keep instead",
        "unsub_done": "You have unsubscribed from {newsletter}",
        "unsub_done_detail": "You will not receive it any more. Clicked by mistake? Undo below.",
        "unsub_all_done": "You have unsubscribed from everything",
        "unsub_all_done_detail": "We will not send you any newsletter again. Clicked by mistake? Undo below.",
        "unsub_undo": "Undo: keep me subscribed",
        "unsub_undone": "Welcome back: your subscription is restored",
        "link_invalid_manage": (
            "The link may have been cut or changed. Ask for a new link to manage your subscriptions."
        ),
        "prefs_title": "Your newsletters",
        "prefs_intro": "Choose what {email} receives.",
        "prefs_legend": "Newsletters",
        "prefs_save": "Save my choices",
        "prefs_saved": "Your choices are saved.",
        "cadence_daily": "Daily at {time}",
        "cadence_weekdays": "Weekdays at {time}",
        "cadence_weekly": "Every {day} at {time}",
        "cadence_regular": "On a regular schedule",
        "cadence_occasional": "From time to time",
        "weekdays": "Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday",
        "manage_title": "Manage my subscriptions",
        "manage_intro": "Enter your address and we will email you a link to your newsletter choices.",
        "manage_button": "Email me a link",
        "manage_sent": (
            "If this address is subscribed to any of our newsletters, a link to manage them is on its way."
        ),
        "email_manage_subject": "Manage your newsletter subscriptions",
        "email_manage_body": "Here is your link to choose which newsletters you receive, or to leave them.",
        "email_manage_button": "Manage my subscriptions",
        "email_manage_ignore": "If you did not ask for this link, ignore this email: nothing changes.",
    },
    "uk": {
        "confirmation_sent": (
            "Дякуємо за підписку на цю розсилку. Ми надіслали вам лист для підтвердження."
        ),
        "invalid_email": "Будь ласка, введіть коректну адресу електронної пошти",
        "did_you_mean": "Можливо, ви мали на увазі {suggestion}?",
        "use_suggestion": "Використати {suggestion}",
        "address_is_right": "Так, ця адреса правильна",
        "email_placeholder": "Ваша електронна пошта",
        "required": "Будь ласка, введіть адресу електронної пошти",
        "newsletters_required": "Будь ласка, оберіть хоча б одну розсилку",
        "unknown_newsletter": "Такої розсилки не існує. Будь ласка, оновіть сторінку.",
        "rate_limited": "Забагато спроб. Зачекайте кілька хвилин і спробуйте ще раз.",
        "bad_request": "Ми не змогли прочитати запит. Оновіть сторінку і спробуйте ще раз.",
        "too_large": "Запит завеликий. Скоротіть його і спробуйте ще раз.",
        "captcha_failed": (
            "Не вдалося підтвердити, що ви людина. Пройдіть перевірку і спробуйте ще раз."
        ),
        "captcha_unavailable": (
            "Зараз ми не можемо перевірити, що ви людина. Спробуйте ще раз за хвилину."
        ),
        "origin_not_allowed": (
            "Цей сайт не може підписувати читачів на цю розсилку. "
            "Будь ласка, підпишіться на нашому сайті."
        ),
        "not_found": "Такої сторінки не існує.",
        "server_error": "Щось пішло не так з нашого боку. Спробуйте ще раз за хвилину.",
        "subscribed": "Підписку підтверджено",
        "subscribed_detail": "Ви отримуватимете {newsletters}. У кожному листі є посилання для відписки.",
        "confirm_title": "Підтвердіть підписку",
        "confirm_intro": "Ще один клік: підтвердіть, що {email} хоче отримувати {newsletters}.",
        "confirm_button": "Підтвердити підписку",
        "token_invalid_title": "Це посилання недійсне",
        "token_invalid": (
            "Можливо, посилання обрізане або змінене. Введіть адресу, і ми надішлемо нове."
        ),
        "token_expired_title": "Термін дії посилання минув",
        "token_expired": "Посилання дійсні {days} днів. Попросіть нове нижче.",
        "token_stale_title": "Це посилання вже використане",
        "token_stale": (
            "Ваша підписка змінилася після надсилання цього посилання. "
            "Введіть адресу, щоб отримати нове."
        ),
        "send_new_link": "Надіслати нове посилання",
        "new_link_sent": "Якщо ця адреса може підписатися, новий лист для підтвердження вже в дорозі.",
        "email_label": "Електронна пошта",
        "subscribe_button": "Підписатися",
        "signup_title": "Підпишіться на наші розсилки",
        "back_to_site": "Повернутися на сайт",
        "email_confirm_subject": "Підтвердіть підписку на {newsletters}",
        "email_confirm_greeting": "Вітаємо{name_part},",
        "email_confirm_body": "Підтвердіть, будь ласка, що хочете отримувати {newsletters} на цю адресу.",
        "email_confirm_button": "Підтвердити підписку",
        "email_confirm_ignore": (
            "Якщо ви не підписувалися, просто проігноруйте цей лист: без підтвердження підписки "
            "не буде, і ми більше не напишемо."
        ),
        "email_confirm_expiry": "Посилання дійсне {days} днів.",
        "digest_top_story": "Головне",
        "digest_news_feed": "Стрічка новин",
        "digest_editors_picks": "Вибір редакції",
        "digest_read_more": "Читати далі",
        "digest_view_in_browser": "Відкрити в браузері",
        "digest_preferences": "Керувати підписками",
        "digest_unsubscribe": "Відписатися",
        "digest_archive": "Попередні випуски",
        "digest_why": "Ви отримуєте {newsletter}, бо підписалися на цю розсилку.",
        "archive_title": "{newsletter}: попередні випуски",
        "archive_empty": "Ще не надіслано жодного випуску.",
        "archive_back": "Усі випуски",
        # -- unsubscribe, preferences, manage link (issue 6)
        "unsub_title": "Відписатися",
        "unsub_intro": "Більше не надсилати {newsletter} на {email}?",
        "unsub_button": "Відписатися",
        "unsub_all_button": "Відписатися від усього",
        "unsub_preferences_link": "Натомість обрати, які розсилки залишити",
        "unsub_done": "Ви відписалися від {newsletter}",
        "unsub_done_detail": "Ви більше її не отримуватимете. Натиснули помилково? Скасуйте нижче.",
        "unsub_all_done": "Ви відписалися від усіх розсилок",
        "unsub_all_done_detail": "Ми більше не надсилатимемо вам розсилок. Натиснули помилково? Скасуйте нижче.",
        "unsub_undo": "Скасувати: залишити підписку",
        "unsub_undone": "З поверненням: вашу підписку відновлено",
        "link_invalid_manage": (
            "Можливо, посилання обрізане або змінене. Попросіть нове посилання для керування підписками."
        ),
        "prefs_title": "Ваші розсилки",
        "prefs_intro": "Оберіть, що отримуватиме {email}.",
        "prefs_legend": "Розсилки",
        "prefs_save": "Зберегти вибір",
        "prefs_saved": "Ваш вибір збережено.",
        "cadence_daily": "Щодня о {time}",
        "cadence_weekdays": "Щобудня о {time}",
        "cadence_weekly": "Щотижня: {day} о {time}",
        "cadence_regular": "За регулярним розкладом",
        "cadence_occasional": "Час від часу",
        "weekdays": "понеділок,вівторок,середа,четвер,пʼятниця,субота,неділя",
        "manage_title": "Керування підписками",
        "manage_intro": "Введіть адресу, і ми надішлемо посилання для вибору розсилок.",
        "manage_button": "Надіслати посилання",
        "manage_sent": (
            "Якщо ця адреса підписана на наші розсилки, посилання для керування ними вже в дорозі."
        ),
        "email_manage_subject": "Керування підписками на розсилки",
        "email_manage_body": "Ось ваше посилання, щоб обрати, які розсилки отримувати, або відписатися.",
        "email_manage_button": "Керувати підписками",
        "email_manage_ignore": "Якщо ви не просили це посилання, проігноруйте лист: нічого не зміниться.",
    },
}


PLURALS: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "confirmation_sent": {
            "=1": MESSAGES["en"]["confirmation_sent"],
            "one": MESSAGES["en"]["confirmation_sent"],
            "other": (
                "Thank you for signing up for these {count} newsletters. "
                "We've sent you a confirmation email."
            ),
        },
    },
    "uk": {
        "confirmation_sent": {
            "=1": MESSAGES["uk"]["confirmation_sent"],
            "one": "Дякуємо за підписку на {count} розсилку. Ми надіслали вам лист для підтвердження.",
            "few": "Дякуємо за підписку на {count} розсилки. Ми надіслали вам лист для підтвердження.",
            "many": "Дякуємо за підписку на {count} розсилок. Ми надіслали вам лист для підтвердження.",
            "other": "Дякуємо за підписку на {count} розсилки. Ми надіслали вам лист для підтвердження.",
        },
    },
}


def normalize_locale(value: object) -> str | None:
    """Return `en` or `uk` for a value like `uk-UA` or `EN`, or None if unsupported."""
    if not isinstance(value, str):
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    if primary == "ua":
        primary = "uk"
    return primary if primary in LOCALES else None


def pick_locale(requested: object, accept_languages: Iterable[str] = ()) -> str:
    """The explicit `requested` locale if supported, else the best of `Accept-Language`."""
    for candidate in (requested, *accept_languages):
        locale = normalize_locale(candidate)
        if locale:
            return locale
    return DEFAULT_LOCALE


def t(key: str, locale: str | None = None, **values: object) -> str:
    """Translate `key` into `locale` (English as fallback) and fill in `values`."""
    catalog = MESSAGES.get(locale or DEFAULT_LOCALE, MESSAGES[DEFAULT_LOCALE])
    text = catalog.get(key) or MESSAGES[DEFAULT_LOCALE][key]
    return text.format(**values) if values else text


@cache
def plural_category(count: int, locale: str) -> str:
    """The CLDR plural category of `count` in `locale` ("one", "few", "many", "other"...)."""
    return Locale.parse(locale if locale in LOCALES else DEFAULT_LOCALE).plural_form(count)


def tn(key: str, count: int, locale: str | None = None, **values: object) -> str:
    """Translate a message about `count` things into the right plural form of `locale`."""
    locale = locale if locale in PLURALS else DEFAULT_LOCALE
    forms = PLURALS[locale].get(key) or PLURALS[DEFAULT_LOCALE][key]
    text = forms.get(f"={count}") or forms.get(plural_category(count, locale)) or forms["other"]
    return text.format(count=count, **values)
