"""`subscribers import` makes the consent choice explicit, and a re-import moves readers on.

On SQLite and PostgreSQL with a real worker and SMTP server: the confirmation emails of
`--send-confirmation` arrive; `--confirmed --consent` keeps the source on each subscription;
an import without a choice is refused and stores nothing.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from service.extensions import db
from service.leaving.suppression import suppression_hash
from service.models import (
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
    Suppression,
)
from tests.conftest import unique_email
from tests.functional.test_cli_admin import write_csv
from tests.support.readers import add_reader


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        db.session.remove()
        result = runner.invoke(args=list(args))
        db.session.remove()
        return result

    return invoke


def subscriptions(slug: str) -> dict[str, tuple[str, str | None]]:
    db.session.expire_all()
    rows = db.session.execute(
        select(Subscriber.email, Subscription.status, Subscription.consent_source)
        .join(Subscription)
        .join(Newsletter)
        .where(Newsletter.slug == slug)
    )
    return {email: (status, source) for email, status, source in rows}


def test_an_import_without_a_choice_is_refused_and_names_the_three(cli, newsletter, tmp_path):
    slug = newsletter().slug
    result = cli("subscribers", "import", write_csv(tmp_path / "a.csv", ["email", unique_email()]),
                 "--newsletter", slug)  # fmt: skip
    assert result.exit_code == 2
    for option in ("--send-confirmation", "--confirmed --consent", "--pending"):
        assert option in result.stderr
    assert subscriptions(slug) == {}
    both = cli("subscribers", "import", str(tmp_path / "a.csv"), "--newsletter", slug,
               "--pending", "--send-confirmation")  # fmt: skip
    assert both.exit_code == 2 and "choose only one" in both.stderr
    assert subscriptions(slug) == {}


def test_send_confirmation_mails_each_new_reader_once(cli, newsletter, smtp, tmp_path):
    slug = newsletter(name="Culture Weekly").slug
    emails = [unique_email() for _ in range(3)]
    path = write_csv(tmp_path / "b.csv", ["email", *emails])
    result = cli("subscribers", "import", path, "--newsletter", slug, "--send-confirmation")
    assert result.exit_code == 0, result.stderr
    assert "3 subscribed (pending, confirmation email sent)" in result.output
    assert "3 confirmation emails queued" in result.output
    assert subscriptions(slug) == dict.fromkeys(emails, ("pending", None))
    for email in emails:
        [message] = smtp.wait_for_recipient(email, timeout=20)
        assert "Culture Weekly" in message.message.get_body(("plain",)).get_content()
        assert "/confirm/" in message.message.get_body(("plain",)).get_content()
    again = cli("subscribers", "import", path, "--newsletter", slug, "--send-confirmation")
    assert again.exit_code == 0, again.stderr
    assert "0 confirmation emails queued, 3 already on the list" in again.output


def test_confirmed_with_consent_records_the_source(cli, newsletter, tmp_path):
    slug = newsletter().slug
    email = unique_email()
    path = write_csv(tmp_path / "c.csv", ["email", email])
    source = "paper form at the Lviv book fair, 2026-11"
    result = cli("subscribers", "import", path, "--newsletter", slug, "--confirmed",
                 "--consent", source)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "1 subscribed (confirmed)" in result.output
    assert subscriptions(slug) == {email: ("confirmed", source)}
    exported = cli("subscribers", "export", "--newsletter", slug)
    [row] = list(csv.DictReader(io.StringIO(exported.output)))
    assert row["consent_source"] == source


def test_confirmed_alone_still_works_and_records_the_file(cli, newsletter, tmp_path):
    """CONTRACT §5 names `--confirmed`: it keeps working, the file named as the source."""
    slug = newsletter().slug
    email = unique_email()
    result = cli("subscribers", "import", write_csv(tmp_path / "old.csv", ["email", email]),
                 "--newsletter", slug, "--confirmed")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "--consent" in result.stderr
    status, source = subscriptions(slug)[email]
    assert status == "confirmed" and "old.csv" in source


def test_a_reimport_moves_pending_readers_on_and_never_resurrects(cli, newsletter, tmp_path):
    news = newsletter()
    pending, fresh, left, bounced, blocked = (unique_email() for _ in range(5))
    add_reader(news, status=SubscriptionStatus.UNSUBSCRIBED, email=left)
    add_reader(news, status=SubscriptionStatus.BOUNCED, email=bounced)
    db.session.add(Suppression(email_hash=suppression_hash(blocked.lower()), reason="manual"))
    db.session.commit()
    first = cli("subscribers", "import", write_csv(tmp_path / "d.csv", ["email", pending]),
                "--newsletter", news.slug, "--pending")  # fmt: skip
    assert first.exit_code == 0 and "pending readers get no email" in first.stderr

    path = write_csv(tmp_path / "e.csv", ["email", pending, fresh, left, bounced, blocked])
    result = cli("subscribers", "import", path, "--newsletter", news.slug,
                 "--consent", "newsletter box of the old site")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert (
        "1 subscribed (confirmed), 1 pending confirmed, "
        "2 already on the list (2 unsubscribed or bounced, left so), 1 rejected"
    ) in result.output
    assert subscriptions(news.slug) == {
        pending: ("confirmed", "newsletter box of the old site"),
        fresh: ("confirmed", "newsletter box of the old site"),
        left: ("unsubscribed", None),
        bounced: ("bounced", None),
    }
    moved = db.session.execute(
        select(SubscriptionEvent.from_status, SubscriptionEvent.to_status, SubscriptionEvent.cause)
        .join(Subscription)
        .join(Subscriber)
        .where(Subscriber.email == pending)
        .order_by(SubscriptionEvent.id)
    ).all()
    assert moved == [(None, "pending", "import"), ("pending", "confirmed", "import")]
