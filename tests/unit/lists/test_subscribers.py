"""Subscribers as ops handle them: export, erasure to a hash, CSV import and export."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from service.addresses import parse_address
from service.extensions import db
from service.leaving import changes, suppression
from service.leaving.suppression import suppression_hash
from service.lists.csv_rows import read_csv
from service.lists.imports import ImportMode, import_subscribers
from service.lists.subscribers import (
    EXPORT_COLUMNS,
    erase_subscriber,
    export_rows,
    export_subscriber,
)
from service.lists.text_encoding import detect_encoding
from service.models import (
    ConsentRecord,
    JobStatus,
    OutboxJob,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    Suppression,
)
from service.signup.accept import SignupRequest, subscribe
from service.signup.confirm import confirm, confirmation_token
from service.task_names import TaskName


@pytest.fixture
def daily(add_newsletter):
    return add_newsletter("daily", name="Ukraine Daily")


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _signed_up_reader(daily) -> Subscriber:
    subscribe(SignupRequest(parse_address("olena@gmail.com"), ("daily",), ip="192.0.2.7"))
    reader = db.session.scalars(select(Subscriber)).one()
    confirm(confirmation_token(reader))
    return reader


def _import(text: str, newsletter, **kwargs):
    errors, warnings = [], []
    report = import_subscribers(
        read_csv(io.StringIO(text)),
        newsletter,
        on_error=lambda line, why: errors.append((line, why)),
        on_warning=lambda line, why: warnings.append((line, why)),
        **kwargs,
    )
    return report, errors, warnings


def test_the_export_holds_everything_kept_about_a_reader(daily, sent_mail):
    reader = _signed_up_reader(daily)
    data = export_subscriber(reader)
    assert (data["email"], data["id"]) == ("olena@gmail.com", reader.id)
    assert [(s["newsletter"], s["status"]) for s in data["subscriptions"]] == [
        ("daily", "confirmed")
    ]
    assert [(e["from_status"], e["to_status"], e["cause"]) for e in data["events"]] == [
        (None, "pending", "signup"),
        ("pending", "confirmed", "confirm"),
    ]
    assert [(c["action"], c["newsletters"], c["ip"]) for c in data["consent_records"]] == [
        ("signup", ["daily"], "192.0.2.7"),
        ("confirm", ["daily"], None),
    ]
    assert data["last_confirmation_sent_at"] is not None and data["deliveries"] == []


def test_erasure_leaves_only_the_address_hash(daily, sent_mail):
    reader = _signed_up_reader(daily)
    digest = erase_subscriber(reader)
    assert digest == suppression_hash("olena@gmail.com")
    counts = [_count(m) for m in (Subscriber, Subscription, SubscriptionEvent, ConsentRecord)]
    assert counts == [0, 0, 0, 0]
    assert db.session.execute(select(Suppression.email_hash, Suppression.reason)).all() == [
        (digest, "erased")
    ]


def test_erasure_keeps_a_stronger_suppression(daily, sent_mail):
    reader = _signed_up_reader(daily)
    suppression.suppress(reader.email_key, suppression.BOUNCE, "550")
    erase_subscriber(reader)
    assert suppression.reason("olena@gmail.com") == "bounce"


def test_an_import_subscribes_new_rows_pending_and_reports_each_bad_line(daily, sent_mail):
    suppression.suppress("blocked@gmail.com", suppression.MANUAL)
    text = (
        "Email,Name\n"
        "olena@gmail.com,Olena\n"
        "not-an-address,X\n"
        "OLENA@gmail.com,Again\n"
        "blocked@gmail.com,\n"
        "taras@gmial.com,Taras\n"
        'ivan@ukr.net,"Ivan\x07  Franko"\n'
    )
    report, errors, warnings = _import(text, daily)
    assert (report.subscribed, report.rejected, report.unchanged, report.suspected) == (3, 3, 0, 1)
    assert [line for line, _ in errors] == [3, 4, 5]
    assert "duplicate of line 2" in errors[1][1] and "suppression list" in errors[2][1]
    assert warnings == [
        (6, "'taras@gmial.com' looks like a typo of taras@gmail.com (kept as typed)")
    ]
    names = dict(db.session.execute(select(Subscriber.email, Subscriber.name)).all())
    assert names["ivan@ukr.net"] == "Ivan Franko"  # control characters gone
    assert set(db.session.scalars(select(Subscription.status))) == {"pending"}
    assert sent_mail == []  # an imported list is not mailed here
    again, _, _ = _import(text, daily, mode=ImportMode.CONFIRMED, consent="paper form")
    assert (again.subscribed, again.confirmed, again.unchanged) == (0, 3, 0)  # moved on
    assert set(db.session.scalars(select(Subscription.status))) == {"confirmed"}


def test_an_import_never_resubscribes_a_reader_who_left(daily, sent_mail):
    reader = _signed_up_reader(daily)
    changes.unsubscribe(reader.id, daily.id, "link")
    report, _, _ = _import(
        "email\nolena@gmail.com\n", daily, mode=ImportMode.CONFIRMED, consent="paper form"
    )
    assert (report.subscribed, report.unchanged) == (0, 1)
    db.session.expire_all()
    assert [s.status for s in reader.subscriptions] == ["unsubscribed"]


def test_a_confirmed_import_is_recorded_with_its_cause(daily):
    report, _, _ = _import(
        "email\nolena@gmail.com\n",
        daily,
        mode=ImportMode.CONFIRMED,
        consent="paper form",
        batch_size=1,
    )
    assert report.subscribed == 1
    [subscription] = db.session.scalars(select(Subscription)).all()
    assert subscription.status == "confirmed" and subscription.confirmed_at is not None
    events = db.session.execute(select(SubscriptionEvent.to_status, SubscriptionEvent.cause)).all()
    assert events == [("confirmed", "import")]
    assert db.session.scalars(select(ConsentRecord.form)).all() == ["csv-import"]


def test_a_csv_without_an_email_column_or_with_an_open_quote_is_explained():
    with pytest.raises(ValueError, match="it has 'name', 'address'"):
        list(read_csv(io.StringIO("name,address\nOlena,olena@gmail.com\n")))
    rows = list(read_csv(io.StringIO('email,name\na@gmail.com,"Olena\nb@gmail.com,B\n')))
    [row] = rows
    assert row.line == 2 and "never closed" in row.problem and "lines 2-3" in row.problem


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1251"])
def test_an_export_in_any_usual_encoding_imports_the_same(daily, tmp_path, encoding):
    path = tmp_path / "list.csv"
    path.write_bytes("email,name\r\nolena@gmail.com,Олена Коваль\r\n".encode(encoding))
    with path.open(encoding=detect_encoding(path), newline="") as stream:
        report, errors, _ = _import(stream.read(), daily)
    assert (report.subscribed, errors) == (1, [])
    assert db.session.scalars(select(Subscriber.name)).one() == "Олена Коваль"


def test_the_export_streams_every_subscriber_and_filters_by_status(daily, sent_mail):
    _import('email,name\nolena@gmail.com,"Коваль, Олена"\ntaras@gmail.com,\n', daily)
    taras = db.session.scalars(
        select(Subscriber).where(Subscriber.email == "taras@gmail.com")
    ).one()
    confirm(confirmation_token(taras))
    rows = list(csv.reader(io.StringIO(_csv(export_rows(daily)))))
    assert rows[0] == EXPORT_COLUMNS
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        ("olena@gmail.com", "Коваль, Олена", "pending"),
        ("taras@gmail.com", "", "confirmed"),
    ]
    confirmed = list(export_rows(daily, "confirmed"))
    assert [r[0] for r in confirmed[1:]] == ["taras@gmail.com"] and confirmed[1][5]
    report, _, _ = _import(_csv(export_rows(daily)), daily)  # an export imports back cleanly
    assert (report.unchanged, report.rejected) == (2, 0)


def _csv(rows) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def test_erasure_also_drops_the_signups_still_holding_the_address(daily, sent_mail):
    reader = _signed_up_reader(daily)
    failed = OutboxJob(
        task=TaskName.APPLY_SIGNUPS,
        payload={"email_key": "olena@gmail.com", "email": "olena@gmail.com"},
        status=JobStatus.FAILED,
    )
    other = OutboxJob(task=TaskName.APPLY_SIGNUPS, payload={"email_key": "taras@gmail.com"})
    db.session.add_all([failed, other])
    db.session.commit()
    erase_subscriber(reader)
    payloads = db.session.scalars(select(OutboxJob.payload)).all()
    assert not [p for p in payloads if "olena" in str(p)]
    assert {"email_key": "taras@gmail.com"} in payloads


def test_send_confirmation_mails_new_and_still_pending_readers_once(daily, sent_mail):
    _import("email\nolena@gmail.com\n", daily)  # pending: mailed nothing
    assert sent_mail == []
    report, _, _ = _import(
        "email\nolena@gmail.com\ntaras@gmail.com\n", daily, mode=ImportMode.SEND_CONFIRMATION
    )
    assert (report.subscribed, report.confirmations_sent, report.unchanged) == (1, 2, 1)
    assert sorted(m.recipients[0] for m in sent_mail) == ["olena@gmail.com", "taras@gmail.com"]
    again, _, _ = _import("email\ntaras@gmail.com\n", daily, mode=ImportMode.SEND_CONFIRMATION)
    assert again.confirmations_sent == 0 and len(sent_mail) == 2  # within the resend pause


def test_a_confirmed_import_needs_its_consent_source(daily):
    with pytest.raises(ValueError, match="source of the readers' consent"):
        _import("email\nolena@gmail.com\n", daily, mode=ImportMode.CONFIRMED, consent="  ")
    assert _count(Subscription) == 0


def test_a_confirmed_import_leaves_the_readers_own_link_for_another_newsletter_working(
    daily, add_newsletter, sent_mail
):
    add_newsletter("weekly")
    _import("email\nolena@gmail.com\n", daily)  # pending on daily
    subscribe(SignupRequest(parse_address("olena@gmail.com"), ("weekly",)))
    reader = db.session.scalars(select(Subscriber)).one()
    link = confirmation_token(reader)
    report, _, _ = _import(
        "email\nolena@gmail.com\n", daily, mode=ImportMode.CONFIRMED, consent="paper form"
    )
    assert report.confirmed == 1  # moved on from pending
    result = confirm(link)
    assert result.changed and [n.slug for n in result.newsletters] == ["daily", "weekly"]
