"""Console pages with a big list: milliseconds per page of `/admin/...` with N readers and
S sends delivered to every tenth reader (N=1,000,000 and S=100 make 10,000,000 ledger rows),
on PostgreSQL.

Run by hand (not in CI):

    .venv/bin/python bench/console.py --n 1000000 --sends 100

It fills a scratch PostgreSQL database as `bench/paging.py` does (the same SQL) plus a year
of the pages that bring signups (`--pages` article pages a newsletter, each with signups on
about two days in five, most on a few pages, and `other` and `direct` every day), signs a
member in through the sign-in page, then times each page through the app's test client (the
whole request: session, role, SQL, template) `--repeat` times and prints the median and the
slowest, in ms. The goal is every page under 300 ms. The database is dropped at the end, unless
`--database URL` names one to fill once and keep.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from sqlalchemy import text  # noqa: E402

from bench.paging import DELIVERIES, FILL  # noqa: E402
from service import create_app  # noqa: E402
from service.extensions import db  # noqa: E402
from service.models import Send, utcnow  # noqa: E402
from service.staff.accounts import create_member  # noqa: E402
from tests.conftest import TEST_SECRET, migrate, scratch_postgres  # noqa: E402

PASSWORD = "a long benchmark password"
# A year of the dashboard's "pages that bring signups" for each newsletter: a long tail of
# article pages (page p brings 1 + 400/p signups on the days it has any), plus `other` and
# `direct` every day.
SOURCES = """
INSERT INTO newsletter_source_days (newsletter_id, day, page, signups, confirmations)
SELECT n.id, current_date - d, 'https://news.example.org/'
    || (ARRAY['news', 'culture', 'business', 'sport', 'opinion'])[p % 5 + 1] || '/story-' || p,
    1 + 400 / p, (1 + 400 / p) * 7 / 10
FROM newsletters n CROSS JOIN generate_series(0, 364) AS d CROSS JOIN generate_series(1, :pages) AS p
WHERE (p * 31 + d * 17) % 5 < 2;
INSERT INTO newsletter_source_days (newsletter_id, day, page, signups, confirmations)
SELECT n.id, current_date - d, w.page, 30, 18
FROM newsletters n CROSS JOIN generate_series(0, 364) AS d
CROSS JOIN (VALUES ('other'), ('direct')) AS w (page)
"""


def fill(n: int, sends: int, pages: int) -> None:
    """N readers, their subscriptions and consents, N suppressions, `sends` finished sends
    delivered to every tenth reader, a year of signups from `pages` pages a newsletter."""
    start = time.perf_counter()
    for statement in FILL.split(";"):
        if statement.strip():
            db.session.execute(text(statement), {"n": n})
    for statement in SOURCES.split(";"):
        db.session.execute(text(statement), {"pages": pages})
    daily = db.session.scalar(text("SELECT id FROM newsletters WHERE slug = 'daily'"))
    db.session.add_all(
        Send(
            newsletter_id=daily,
            subject=f"Issue {i}",
            status="sent",
            total=n // 10,
            sent=n // 10,
            started_at=utcnow() - timedelta(days=sends - i),
        )
        for i in range(sends)
    )
    db.session.commit()
    for statement in DELIVERIES.split(";"):
        if statement.strip():
            db.session.execute(text(statement))
    db.session.commit()
    ledger = db.session.scalar(text("SELECT count(*) FROM deliveries"))
    rows = db.session.scalar(text("SELECT count(*) FROM newsletter_source_days"))
    print(f"filled {n} readers, {ledger} ledger rows, {rows} page rows in "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip


def signed_in(app):
    """A test client signed in as an owner through the sign-in page."""
    email = f"bench-{time.time_ns()}@newsroom.example.org"
    create_member(email, "owner", PASSWORD)
    client = app.test_client()
    page = client.get("/admin/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    answer = client.post("/admin/sign-in", data={"email": email, "password": PASSWORD,
                                                  "csrf_token": token})  # fmt: skip
    assert answer.status_code == 302, answer.status_code
    return client


def timed(client, path: str, repeat: int) -> tuple[float, float]:
    """(median ms, slowest ms) of `repeat` GETs of `path`."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--sends", type=int, default=100)
    parser.add_argument("--pages", type=int, default=300, help="article pages that bring signups")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--database", help="a PostgreSQL URL to fill once and keep")
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
            if not db.session.scalar(text("SELECT count(*) FROM subscribers")):
                fill(args.n, args.sends, args.pages)
            client = signed_in(app)
            send_id = db.session.scalar(text("SELECT max(id) FROM sends"))
            reader = args.n // 2 // 10 * 10
            pages = [
                "/admin/",
                "/admin/newsletters",
                "/admin/newsletters/next-runs",
                "/admin/newsletters/new",
                "/admin/newsletters/daily",
                "/admin/newsletters/daily/digest",
                "/admin/newsletters/daily/digest.html",
                "/admin/sends",
                f"/admin/sends/{send_id}",
                f"/admin/sends/{send_id}/progress",
                f"/admin/sends/{send_id}/live",
                "/admin/articles",
                "/admin/suppressions",
                "/admin/imports/new",
                "/admin/readers",
                f"/admin/readers?after={args.n // 2}",
                "/admin/readers?newsletter=weekly&status=pending",
                "/admin/readers?status=unsubscribed",
                "/admin/readers?source=import",
                "/admin/readers?email_prefix=r77777",
                "/admin/readers?created_after=2026-11-01&created_before=2026-11-03",
                f"/admin/readers/{reader}",
                f"/admin/readers/{reader}/erase",
                "/admin/api-keys",
                "/admin/audit",
                "/admin/staff",
                "/admin/account",
            ]
            print(f"{'median ms':>9} {'max ms':>7}  page")
            for path in pages:
                median, slowest = timed(client, path, args.repeat)
                print(f"{median:9.1f} {slowest:7.1f}  {path}")
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
