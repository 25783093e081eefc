"""Demo data for `make run`: two newsletters and a handful of sample articles (idempotent)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from service.extensions import db
from service.models import Article, Newsletter, utcnow

NEWSLETTERS = [
    {
        "slug": "daily",
        "name": "Ukraine Daily",
        "description": "The day's most important news from Ukraine, every morning.",
        "schedule_cron": "0 7 * * *",
        "timezone": "Europe/Kyiv",
        "translations": {
            "uk": {
                "name": "Щоденні новини з України",
                "description": "Найважливіше за день, щоранку у вашій поштовій скриньці.",
            }
        },
    },
    {
        "slug": "explaining-ukraine",
        "name": "Explaining Ukraine with Kate Tsurkan",
        "description": "A weekly letter that puts the week's events in context.",
        "schedule_cron": "0 9 * * 5",
        "timezone": "Europe/Kyiv",
        "filters": {"authors": ["Kate Tsurkan"]},
        "translations": {
            "uk": {
                "name": "Пояснюємо Україну з Кейт Цуркан",
                "description": "Щотижневий лист, що пояснює події тижня в контексті.",
            }
        },
    },
]

ARTICLES = [
    (
        "Kyiv's night trains keep running, whatever the sirens say",
        "Ukraine war",
        ["Olena Hrytsenko"],
        True,
    ),
    (
        "What the new air defense package means for Ukraine's cities",
        "Politics",
        ["Kate Tsurkan"],
        False,
    ),
    (
        "Explaining Ukraine: why grain corridors matter to the world",
        "Economy",
        ["Kate Tsurkan"],
        True,
    ),
    ("Kharkiv's underground schools open a second term", "Society", ["Dmytro Basmat"], False),
    ("Energy grid repairs race the first frost", "Economy", ["Olena Hrytsenko"], False),
    ("The artists documenting the war in Lviv", "Culture", ["Kate Tsurkan"], True),
]


def seed_demo() -> int:
    """Insert whatever demo rows are missing; return how many were created. A demo newsletter
    seeded before it had translations gets them."""
    created = 0
    for data in NEWSLETTERS:
        existing = db.session.scalar(select(Newsletter).where(Newsletter.slug == data["slug"]))
        if existing is None:
            db.session.add(Newsletter(**data))
            created += 1
        elif not existing.translations:
            existing.translations = data["translations"]
    now = utcnow()
    for hours, (title, section, authors, pick) in enumerate(ARTICLES, start=1):
        slug = "-".join(title.lower().replace("'", "").replace(":", "").split())[:80]
        url = f"https://news.example.org/news/{slug}"
        if db.session.scalar(select(Article.id).where(Article.url == url)) is None:
            db.session.add(
                Article(
                    url=url,
                    guid=url,
                    title=title,
                    section=section,
                    authors=authors,
                    editors_pick=pick,
                    published_at=now - timedelta(hours=hours),
                    summary_text=f"{title}. A sample summary for the demo digest.",
                    summary_html=f"<p>{title}. A sample summary for the demo digest.</p>",
                    image_url=f"https://picsum.photos/seed/{hours}/600/338",
                )
            )
            created += 1
    db.session.commit()
    return created
