"""Mail out authenticated, end to end: a real send through a real worker and the aiosmtpd
relay with DKIM keys and a BOUNCE_DOMAIN set, every message verified by dkimpy and sent from
its reader's VERP address; then bounce mail fed over SMTP to `newsletter bounces serve` (the
real command, its own process) suppresses that reader once, and a forged address nobody."""

from __future__ import annotations

import smtplib
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from service.extensions import db
from service.leaving import suppression
from service.mail import dkim
from service.mail.verp import Verp
from service.models import Article, FeedbackRecord, Newsletter, Send, utcnow
from service.sending import scheduling
from tests.conftest import ROOT, app_for, migrate, stack_env, start_worker
from tests.support.dkim_keys import DOMAIN, SELECTOR, dns_of, ed25519_pem, rsa_pem, verified
from tests.support.dsn import sample
from tests.support.processes import free_port, stop_process, wait_for_port
from tests.support.readers import add_reader, statuses
from tests.support.smtp_server import SMTPServer

NEWSLETTER_CLI = ROOT / ".venv" / "bin" / "newsletter"
BOUNCES = "bounces.news.example.org"
READERS = 6


@pytest.fixture(scope="module")
def signed(tmp_path_factory, redis_server) -> Iterator[SimpleNamespace]:
    """A stack whose every process signs (RSA and Ed25519) and sends from VERP addresses."""
    instance = tmp_path_factory.mktemp("signed")
    key = instance / "dkim.pem"
    key.write_text(rsa_pem())
    relay = SMTPServer().start()
    env = stack_env(
        f"sqlite:///{instance / 'signed.db'}",
        f"{redis_server.url}/6",
        f"{redis_server.url}/7",
        relay.url,
        instance,
    )
    settings = {
        "DKIM_SELECTOR": SELECTOR,
        "DKIM_DOMAIN": DOMAIN,
        "DKIM_PRIVATE_KEY": str(key),
        "DKIM_ED25519_PRIVATE_KEY": ed25519_pem(),
        "BOUNCE_DOMAIN": BOUNCES,
        "FEEDBACK_ID_SENDER": "kyivindep",
    }
    env.update(settings)
    app = app_for(env, **settings)
    migrate(app)
    worker = start_worker(env, instance / "worker.log")
    try:
        yield SimpleNamespace(app=app, env=env, relay=relay)
    finally:
        stop_process(worker)
        relay.stop()
        with app.app_context():
            db.engine.dispose()


def send_digest(news: Newsletter, timeout: float = 60.0) -> Send:
    send_id = scheduling.create_send(news).id
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        send = db.session.get(Send, send_id)
        if send.status not in ("scheduled", "sending"):
            return send
        time.sleep(0.1)
    raise AssertionError(f"send {send_id} still {send.status}")


def test_a_signed_send_from_verp_addresses_and_its_bounce(signed):
    with signed.app.app_context():
        news = Newsletter(slug="signed-daily", name='Щоденні "новини"', filters={})
        db.session.add(news)
        db.session.add(
            Article(
                url="https://news.example.org/signed",
                title="Kyiv =?utf-8?q?x=0D=0ABcc:_a@b.c?= today",
                summary_text="What happened.",
                published_at=utcnow() - timedelta(minutes=1),
            )
        )
        db.session.commit()
        readers = [
            add_reader(news, name=f"Reader\r\nBcc: x@evil.example {n}") for n in range(READERS)
        ]
        send = send_digest(news)
        assert (send.status, send.sent) == ("sent", READERS)
        records = dns_of(dkim.signer())
        verp = Verp(BOUNCES, signed.app.config["SECRET_KEYS"])
        by_address = {reader.email: reader for reader in readers}

        messages = signed.relay.wait_for(READERS)
        for message in messages:
            reader = by_address[message.recipients[0]]
            assert verified(message.data, records) == [True, True]
            assert verp.parse(message.sender) == (send.id, reader.id)
            assert message.message.get_all("Feedback-ID") == [
                f"{send.id}:{news.slug}:digest:kyivindep"
            ]
            signed_headers = message.data.split(b"\r\n\tbh=")[0].decode()
            for name in ("list-unsubscribe-post", "feedback-id", "list-id", "message-id"):
                assert name in signed_headers

        # The first reader's address is dead: its server's report comes back to the VERP address.
        dead = readers[0]
        address = next(m.sender for m in messages if m.recipients[0] == dead.email)
        report = sample("postfix-user-unknown.rfc822", verp=address, rcpt=dead.email, msgid="x@y")
        port = free_port()
        server = subprocess.Popen(
            [str(NEWSLETTER_CLI), "bounces", "serve", "--port", str(port)],
            cwd=ROOT,
            env=signed.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, timeout=30)
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                client.sendmail("", [address], report)
                client.sendmail("", [address], report)  # delivered twice
                forged = verp.make(send.id, readers[1].id).replace("bounces+", "bounces+1")
                with pytest.raises(smtplib.SMTPRecipientsRefused):
                    client.sendmail("", [forged], report)
        finally:
            stop_process(server)
        output = server.stdout.read().decode()
        assert server.returncode == 0, output
        assert f"listening on 127.0.0.1:{port}" in output

        assert statuses(dead.id) == {news.slug: "bounced"}
        assert suppression.reason(dead.email_key) == "bounce"
        count = select(func.count()).select_from(FeedbackRecord)
        assert db.session.scalar(count) == 1  # once, for the reader the address names
        for other in readers[1:]:
            assert statuses(other.id) == {news.slug: "confirmed"}
            assert suppression.reason(other.email_key) is None
