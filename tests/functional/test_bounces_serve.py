"""The inbound bounce server on a real socket: each MTA's report acts once on the reader its
VERP address names, on SQLite and PostgreSQL; a forged address is refused at RCPT and a
report cannot point at somebody else."""

from __future__ import annotations

import smtplib
import socket
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from service.bounces import inbound
from service.extensions import db
from service.leaving import suppression
from service.mail.verp import Verp
from service.models import Delivery, DeliveryStatus, FeedbackRecord, Send, SendStatus
from tests.support.dsn import sample
from tests.support.processes import free_port
from tests.support.readers import add_reader, statuses

DOMAIN = "bounces.news.example.org"
# sample -> (what happens to the reader, a subscription status after it)
ACTS = {
    "postfix-user-unknown.rfc822": ("suppressed", "bounced"),
    "exim-user-unknown.rfc822": ("suppressed", "bounced"),
    "exim-legacy.rfc822": ("suppressed", "bounced"),
    "exchange-recipient-not-found.rfc822": ("suppressed", "bounced"),
    "gmail-over-quota.rfc822": ("counted", "confirmed"),  # soft: one is not enough
    "policy-rejected.rfc822": ("none", "confirmed"),  # about the sender, not the reader
    "arf-abuse.rfc822": ("unsubscribed", "unsubscribed"),
    "arf-not-spam.rfc822": (None, "confirmed"),
    "postfix-delayed.rfc822": (None, "confirmed"),
    "vacation.rfc822": (None, "confirmed"),
    "vacation-subject-only.rfc822": (None, "confirmed"),
}


@pytest.fixture
def server(app) -> Iterator[tuple[Verp, int]]:
    verp = Verp(DOMAIN, app.config["SECRET_KEYS"])
    port = free_port()
    controller = inbound.serve(app, verp, "127.0.0.1", port)
    yield verp, port
    controller.stop()
    controller.handler.close()


def delivered(newsletter) -> tuple[object, Send]:
    reader = add_reader(newsletter)
    send = Send(newsletter=newsletter, status=SendStatus.SENT, subject="s", sent=1, total=1)
    db.session.add(send)
    db.session.flush()
    db.session.add(Delivery(send_id=send.id, subscriber_id=reader.id, status=DeliveryStatus.SENT))
    db.session.commit()
    return reader, send


def mail(port: int, to: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail("", [to], raw)


def records(reader_id: int) -> int:
    db.session.expire_all()
    query = select(func.count()).select_from(FeedbackRecord)
    return db.session.scalar(query.where(FeedbackRecord.subscriber_id == reader_id))


@pytest.mark.parametrize("name", sorted(ACTS))
def test_each_report_acts_once_on_the_reader_its_address_names(app, newsletter, server, name):
    verp, port = server
    news = newsletter()
    reader, send = delivered(news)
    address = verp.make(send.id, reader.id)
    raw = sample(name, verp=address, rcpt=reader.email, msgid=f"send-{send.id}-{reader.id}@x.org")
    action, status = ACTS[name]

    mail(port, address, raw)
    mail(port, address, raw)  # the sending server retried: the same report again

    assert records(reader.id) == (0 if action is None else 1)
    if action is not None:
        record = db.session.scalars(
            select(FeedbackRecord).where(FeedbackRecord.subscriber_id == reader.id)
        ).one()
        assert (record.action, record.send_id) == (action, send.id)
        assert record.source == ("arf" if name.startswith("arf") else "dsn")
    assert statuses(reader.id) == {news.slug: status}
    suppressed = suppression.reason(reader.email_key) is not None
    assert suppressed == (action in ("suppressed", "unsubscribed"))


def test_a_forged_or_foreign_recipient_is_refused_and_changes_nothing(app, newsletter, server):
    verp, port = server
    reader, send = delivered(newsletter())
    genuine = verp.make(send.id, reader.id)
    raw = sample("postfix-user-unknown.rfc822", verp=genuine, rcpt=reader.email, msgid="x@y")
    local, _, domain = genuine.partition("@")
    forged = [
        Verp(DOMAIN, ["someone else's key"]).make(send.id, reader.id),
        f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}",  # one character changed
        f"bounces+{send.id}-{reader.id + 1}-{local.rsplit('-', 1)[1]}@{domain}",  # other reader
        f"postmaster@{DOMAIN}",
        f"{local}@other.example",
    ]
    for address in forged:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            mail(port, address, raw)
        assert refused.value.recipients[address][0] == 550
    assert records(reader.id) == 0
    assert suppression.reason(reader.email_key) is None


def test_a_report_naming_someone_else_acts_only_on_the_verp_reader(app, newsletter, server):
    """Whoever receives a digest knows their own bounce address and could send a report
    naming another reader; the address decides, the report's Final-Recipient does not."""
    verp, port = server
    news = newsletter()
    mallory, send = delivered(news)
    victim = add_reader(news, email=f"victim-{uuid.uuid4().hex[:6]}@example.com")
    address = verp.make(send.id, mallory.id)
    raw = sample("postfix-user-unknown.rfc822", verp=address, rcpt=victim.email, msgid="x@y")

    mail(port, address, raw)

    assert statuses(victim.id) == {news.slug: "confirmed"}
    assert suppression.reason(victim.email_key) is None
    assert statuses(mallory.id) == {news.slug: "bounced"}  # only themselves


def test_serve_refuses_to_start_without_a_bounce_domain_or_on_a_busy_port(sqlite_app_with):
    plain = sqlite_app_with()
    with plain.app_context():
        result = plain.test_cli_runner().invoke(args=["bounces", "serve", "--port", "2599"])
    assert result.exit_code == 1 and "BOUNCE_DOMAIN is not set" in result.output
    configured = sqlite_app_with(BOUNCE_DOMAIN=DOMAIN)
    with socket.socket() as busy, configured.app_context():
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = configured.test_cli_runner().invoke(args=["bounces", "serve", "--port", str(port)])
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output
