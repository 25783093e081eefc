"""Admin list paging: milliseconds per page of `GET /api/v1/subscribers` (and `/sends`,
`/articles`, `/audit`, `/suppressions`, a reader's `/timeline`, a newsletter's `/stats`) with N
subscribers on PostgreSQL, first pages and deep ones, with each filter, at 50 and 500 rows.

Run by hand (not in CI):

    .venv/bin/python bench/paging.py --n 1000000

It makes a scratch PostgreSQL database (127.0.0.1:5432, user postgres), migrates it, fills it
in SQL (N readers, two newsletters, statuses spread over the readers, signup times over a
year, every tenth reader imported; N suppressions; 20 finished sends delivered to every tenth
reader, and 480 sends more; N/10 articles over a year in five sections; a year of daily figures; N/10 audit
events), then times each query through the app's test client
(the whole request: key check, SQL, JSON) `--repeat` times and prints the median and the
slowest, in ms. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from sqlalchemy import text  # noqa: E402

from service import create_app  # noqa: E402
from service.access.keys import create_api_key  # noqa: E402
from service.extensions import db  # noqa: E402
from service.models import Send  # noqa: E402
from service.paging import encode_cursor  # noqa: E402
from tests.conftest import TEST_SECRET, migrate, scratch_postgres  # noqa: E402

FILL = """
INSERT INTO newsletters (slug, name, description, timezone, min_new_articles, is_public,
    filters, allowed_origins, translations, created_at, updated_at)
VALUES ('daily', 'Daily', '', 'UTC', 1, true, '{}', '[]', '{}', now(), now()),
       ('weekly', 'Weekly', '', 'UTC', 1, true, '{}', '[]', '{}', now(), now());
INSERT INTO subscribers (email, email_ascii, email_key, smtputf8, locale, state_version,
    created_at, updated_at)
SELECT 'r' || g || '@example.org', 'r' || g || '@example.org', 'r' || g || '@example.org',
    false, 'en', 0, now() - (g % 365) * interval '1 day', now()
FROM generate_series(1, :n) AS g;
INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, updated_at)
SELECT s.id, n.id, CASE WHEN s.id % 7 = 0 THEN 'unsubscribed' WHEN s.id % 5 = 0
    THEN 'pending' ELSE 'confirmed' END, now(), now()
FROM subscribers s JOIN newsletters n ON n.slug = 'daily' OR s.id % 3 = 0;
INSERT INTO newsletter_reader_counts (newsletter_id, status, readers)
SELECT newsletter_id, status, count(*) FROM subscriptions GROUP BY newsletter_id, status;
INSERT INTO consent_records (subscriber_id, action, newsletters, created_at)
SELECT id, CASE WHEN id % 10 = 0 THEN 'import' ELSE 'signup' END, 'daily', now()
FROM subscribers;
INSERT INTO suppressions (email_hash, reason, detail, created_at)
SELECT md5('a' || g) || md5('b' || g), 'bounce', '', now() FROM generate_series(1, :n) AS g;
INSERT INTO articles (url, title, summary_html, summary_text, authors, section, tags,
    editors_pick, published_at, created_at, updated_at)
SELECT 'https://news.example.org/' || g, 'Story ' || g, '<p>A summary.</p>', 'A summary.',
    '["Olena K."]', (ARRAY['News', 'Culture', 'Business', 'Sport', 'Opinion'])[g % 5 + 1],
    '["ukraine"]', g % 50 = 0, now() - (g % 8760) * interval '1 hour', now(), now()
FROM generate_series(1, :n / 10) AS g;
INSERT INTO newsletter_days (newsletter_id, day, signups, confirmations, unsubscribes,
    bounces, complaints, erasures, net)
SELECT n.id, current_date - d, 100, 80, 5, 1, 0, 0, 74
FROM newsletters n CROSS JOIN generate_series(0, 365) AS d;
INSERT INTO audit_events (at, event, via, actor, target, detail)
SELECT now() - g * interval '1 minute', 'send.paused', 'cli', 'ops', 'send:' || g, '{}'
FROM generate_series(1, :n / 10) AS g;
"""
DELIVERIES = """
INSERT INTO deliveries (send_id, subscriber_id, status, attempts, response, updated_at)
SELECT s.id, r.id, 'sent', 1, '', now() - s.id * interval '1 day'
FROM sends s CROSS JOIN subscribers r WHERE r.id % 10 = 0 AND s.subject LIKE 'Issue %';
ANALYZE;
"""


def timed(
    client, path: str, headers: dict[str, str], repeat: int
) -> tuple[float, float, float, int]:
    """(median ms, slowest ms, median CPU ms of this process, rows on the page: its longest
    list) of `repeat` GETs of `path`. The CPU time is the app's side alone (key check, ORM or
    columns, JSON), which a machine shared with other work inflates far less than the wall
    time; PostgreSQL's own time is in the wall time only."""
    times, cpu, rows = [], [], 0
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        answer = client.get(path, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert answer.status_code == 200, (path, answer.json)
        rows = max(len(v) for v in answer.json.values() if isinstance(v, list))
    return statistics.median(times), max(times), statistics.median(cpu), rows


def fill(n: int) -> None:
    """Fill the database as the module's docstring says."""
    start = time.perf_counter()
    for statement in FILL.split(";"):
        if statement.strip():
            db.session.execute(text(statement), {"n": n})
    daily = db.session.scalar(text("SELECT id FROM newsletters WHERE slug = 'daily'"))
    db.session.add_all(
        Send(newsletter_id=daily, subject=f"Issue {k}", status="sent") for k in range(20)
    )
    db.session.commit()  # and 480 older ones, never delivered: a whole page of 500 sends
    db.session.add_all(
        Send(newsletter_id=daily, subject=f"Old issue {k}", status="sent") for k in range(480)
    )
    db.session.commit()
    for statement in DELIVERIES.split(";"):
        if statement.strip():
            db.session.execute(text(statement))
    db.session.commit()
    print(f"filled {n} readers in {time.perf_counter() - start:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--database",
        help="a PostgreSQL URL to fill once and keep (filled only while it has no reader), "
        "to time a change without filling again; default: a scratch database, dropped",
    )
    args = parser.parse_args()
    scratch = nullcontext(args.database) if args.database else scratch_postgres()
    with scratch as url, tempfile.TemporaryDirectory() as tmp:
        app = create_app({
            "ENV": "test", "SQLALCHEMY_DATABASE_URI": url, "CELERY_BROKER_URL": "memory://",
            "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://", "MAIL_URL": "memory://",
            "SECRET_KEYS": [TEST_SECRET], "INSTANCE_PATH": tmp,
        })  # fmt: skip
        migrate(app)
        with app.app_context():
            if db.session.scalar(text("SELECT max(id) FROM subscribers")) is None:
                fill(args.n)
            name = f"bench-{time.time_ns()}"
            headers = {"Authorization": f"Bearer {create_api_key(name, ['admin'])}"}
            middle = encode_cursor(args.n // 2)
            deep_article = encode_cursor("2026-06-01T00:00:00.000000+00:00", args.n // 20)
            year_ago = (date.today() - timedelta(days=365)).isoformat()
            client = app.test_client()
            queries = [
                "/api/v1/subscribers",
                f"/api/v1/subscribers?cursor={middle}",
                "/api/v1/subscribers?limit=500",
                f"/api/v1/subscribers?limit=500&cursor={middle}",
                "/api/v1/subscribers?newsletter=weekly&status=pending",
                f"/api/v1/subscribers?newsletter=weekly&status=pending&cursor={middle}",
                "/api/v1/subscribers?status=unsubscribed",
                "/api/v1/subscribers?source=import",
                "/api/v1/subscribers?created_after=2026-11-01&created_before=2026-11-03",
                "/api/v1/subscribers?email=r777777@example.org",
                "/api/v1/subscribers?email_prefix=r77777",
                "/api/v1/subscribers?newsletter=weekly&status=pending&limit=500",
                "/api/v1/subscribers?status=unsubscribed&limit=500",
                "/api/v1/subscribers?source=import&limit=500",
                "/api/v1/subscribers?created_after=2026-11-01&created_before=2026-11-03&limit=500",
                "/api/v1/subscribers?email_prefix=r77777&limit=500",
                "/api/v1/sends",
                "/api/v1/sends?newsletter=daily&status=sent&limit=500",
                "/api/v1/articles",
                "/api/v1/articles?limit=500",
                f"/api/v1/articles?limit=500&cursor={deep_article}",
                "/api/v1/articles?section=Culture&limit=500",
                "/api/v1/articles?published_after=2026-03-01&published_before=2026-03-08&limit=500",
                f"/api/v1/newsletters/daily/stats?from={year_ago}",
                "/api/v1/audit",
                "/api/v1/audit?limit=500",
                "/api/v1/suppressions",
                "/api/v1/suppressions?limit=500",
                f"/api/v1/suppressions?cursor={middle}",
                "/api/v1/suppressions?email=r777777@gmail.com",
                "/api/v1/subscribers/10/timeline",
                f"/api/v1/subscribers/{args.n // 2 // 10 * 10}/timeline?limit=500",
            ]
            print(f"{'median ms':>9} {'max ms':>7} {'cpu ms':>6} {'rows':>5}  query")
            for path in queries:
                median, slowest, cpu, rows = timed(client, path, headers, args.repeat)
                print(f"{median:9.1f} {slowest:7.1f} {cpu:6.1f} {rows:5}  {path}")
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
