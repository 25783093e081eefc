"""CSV lists uploaded over the API and imported by a real Celery worker (SQLite and PostgreSQL):
202 with an id, progress to `done`, the good rows subscribed, the bad ones reported by row
number and reason; the file itself is dropped; the daily figures count the import; and the
export streams the list back as CSV."""

from __future__ import annotations

import csv
import io
import time

from sqlalchemy import func, select

from service.extensions import db
from service.models import ListImport, NewsletterDay, Subscriber, Subscription
from tests.conftest import unique_email


def _wait_done(client, headers, location: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(location, headers=headers)
        assert answer.status_code == 200, answer.json
        if answer.json["status"] in ("done", "failed"):
            return answer.json
        assert time.monotonic() < deadline, answer.json
        time.sleep(0.1)


def test_an_uploaded_list_is_imported_by_the_worker_with_a_report(client, api_key, newsletter):
    news = newsletter()
    headers = {"Authorization": f"Bearer {api_key}"}
    good = [unique_email() for _ in range(1200)]  # three batches of the import
    lines = ["Email Address;First Name;Last Name"]
    lines += [f"{address};Olena;K" for address in good[:600]]
    lines += ["not-an-address;x;y", f"{good[590]};again;dup", "", "bob@gmial.com;Bob;"]
    lines += [f"{address};;" for address in good[600:]]
    body = ("\n".join(lines) + "\n").encode("cp1251")
    answer = client.post(
        "/api/v1/imports",
        headers=headers,
        data={
            "file": (io.BytesIO(body), "list.csv", "text/csv"),
            "newsletter": news.slug,
            "consent": "paper form at the book fair",
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 202, answer.json
    assert len(body) > 16 * 1024  # over the API's usual body limit: this route has its own
    report = _wait_done(client, headers, answer.headers["Location"])
    assert report["status"] == "done", report
    assert report["mode"] == "confirmed"
    assert (report["rows_total"], report["rows_done"]) == (1203, 1203)
    assert report["counts"]["subscribed"] == 1201  # bob@gmial.com is kept as typed
    assert report["counts"]["suspected"] == 1
    assert report["bad_rows_total"] == 2, report["bad_rows"]
    assert [row["row"] for row in report["bad_rows"]] == [602, 603]
    assert "duplicate of line 592" in report["bad_rows"][1]["reason"]
    assert report["warnings"][0]["row"] == 605
    db.session.commit()
    confirmed = db.session.scalar(
        select(func.count()).where(
            Subscription.newsletter_id == news.id, Subscription.status == "confirmed"
        )
    )
    assert confirmed == 1201
    assert db.session.get(ListImport, report["id"]).data is None  # the addresses are not kept
    figures = db.session.scalars(
        select(NewsletterDay).where(NewsletterDay.newsletter_id == news.id)
    )
    assert sum(day.net for day in figures) == 1201

    exported = client.get(f"/api/v1/newsletters/{news.slug}/export", headers=headers)
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0][0] == "email" and len(rows) == 1202
    assert {row[0] for row in rows[1:]} == {*good, "bob@gmial.com"}


def test_a_csv_body_upload_and_a_file_that_cannot_be_read(client, api_key, newsletter):
    news = newsletter()
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "text/csv"}
    first = unique_email()
    answer = client.post(
        f"/api/v1/imports?newsletter={news.slug}&mode=pending",
        data=f"email,name\n{first},Olena\n",
        headers=headers,
    )
    assert answer.status_code == 202, answer.json
    report = _wait_done(client, headers, answer.headers["Location"])
    assert (report["status"], report["counts"]["subscribed"], report["rows_done"]) == ("done", 1, 1)
    db.session.commit()
    reader = db.session.scalars(select(Subscriber).where(Subscriber.email_key == first)).one()
    assert [s.status for s in reader.subscriptions] == ["pending"]

    no_column = client.post(
        f"/api/v1/imports?newsletter={news.slug}&mode=pending",
        data="name,phone\nOlena,123\n",
        headers=headers,
    )
    failed = _wait_done(client, headers, no_column.headers["Location"])
    assert failed["status"] == "failed" and "column" in failed["error"]
