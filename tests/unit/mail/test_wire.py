"""DATA preparation and the (pipelined) SMTP transaction of service.mail.wire."""

from __future__ import annotations

import random
import re
import smtplib
from collections.abc import Iterator

import pytest

from service.mail import wire
from service.mail.transports import SMTPTransport
from tests.support.smtp_server import SMTPServer

SENDER = "news@example.org"
RCPT = "reader@example.net"
MESSAGE = b"Subject: Issue 1\r\n\r\nHello.\r\n"


def smtplib_data(message: bytes) -> bytes:
    """What the transport sent through smtplib before: CRLF line ends, then SMTP.data's
    dot-stuffing and final CRLF."""
    data = smtplib._quote_periods(re.sub(rb"\r\n|\r|\n", b"\r\n", message))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b".",
        b"a\r\n",
        b".starts with a dot\r\nok\r\n",
        b"a\r\n.b\r\n..c\r\n",
        b"bare\nline\rends\r\n.x",
        b"no final line end",
        b"a\r\r\n\n.",
    ],
)
def test_prepare_matches_smtplib(message: bytes) -> None:
    assert wire.prepare(message) == smtplib_data(message)


def test_prepare_matches_smtplib_on_random_messages() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        message = bytes(rng.choice(b"ab.\r\n ") for _ in range(rng.randint(0, 12)))
        assert wire.prepare(message) == smtplib_data(message), message


def test_prepared_message_is_passed_through_untouched() -> None:
    message = b"Subject: x\r\n\r\n" + b"line. with dots.\r\n" * 500
    assert wire.is_prepared(message)
    assert wire.prepare(message) is message


@pytest.mark.parametrize(
    "message", [b"a\r\n.b\r\n", b".a\r\n", b"a\nb\r\n", b"a\rb\r\n", b"a\r\nb", b""]
)
def test_unprepared_messages_are_recognised(message: bytes) -> None:
    assert not wire.is_prepared(message)


# -- the transaction -----------------------------------------------------------------------


@pytest.fixture
def writes(monkeypatch) -> Iterator[list[bytes]]:
    """Every write the SMTP client makes, once its session is open."""
    sent: list[bytes] = []
    real = smtplib.SMTP.send

    def send(self, data):
        sent.append(data if isinstance(data, bytes) else data.encode())
        return real(self, data)

    monkeypatch.setattr(smtplib.SMTP, "send", send)
    yield sent


@pytest.mark.parametrize("pipelining, expected", [(True, 2), (False, 4)])
def test_envelope_is_pipelined_when_offered(writes, pipelining, expected) -> None:
    with SMTPServer(pipelining=pipelining) as server:
        transport = SMTPTransport(server.host, server.port, timeout=5)
        transport.send(MESSAGE, SENDER, [RCPT])  # opens the session
        writes.clear()
        transport.send(MESSAGE, SENDER, [RCPT])
        sent = list(writes)
        transport.close()
        assert [m.data for m in server.wait_for(2)] == [MESSAGE, MESSAGE]
    assert len(sent) == expected
    if pipelining:
        assert sent[0].upper().split(b"\r\n") == [
            f"MAIL FROM:<{SENDER.upper()}> SIZE={len(MESSAGE)}".encode(),
            f"RCPT TO:<{RCPT.upper()}>".encode(),
            b"DATA",
            b"",
        ]
        assert sent[1] == MESSAGE + b".\r\n"


class ScriptedConnection:
    """Stands in for smtplib.SMTP: answers from a script and records what it was sent."""

    does_esmtp = True
    command_encoding = "ascii"

    def __init__(self, replies: list[tuple[int, bytes]], extensions=("pipelining",)) -> None:
        self.replies = list(replies)
        self.extensions = extensions
        self.sent: list[bytes] = []
        self.closed = False

    def ehlo_or_helo_if_needed(self) -> None:
        pass

    def has_extn(self, name: str) -> bool:
        return name in self.extensions

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def getreply(self) -> tuple[int, bytes]:
        return self.replies.pop(0)

    def rset(self) -> None:
        self.sent.append(b"RSET\r\n")
        self.replies.pop(0)

    def close(self) -> None:
        self.closed = True


def test_refused_sender_reads_every_pipelined_reply_before_rset() -> None:
    conn = ScriptedConnection([(550, b"no"), (503, b"seq"), (503, b"seq"), (250, b"reset")])
    with pytest.raises(smtplib.SMTPSenderRefused) as info:
        wire.sendmail(conn, MESSAGE, SENDER, [RCPT])
    assert info.value.smtp_code == 550
    assert conn.sent[-1] == b"RSET\r\n" and conn.replies == [] and not conn.closed


def test_all_refused_recipients_skip_the_data_reply_then_rset() -> None:
    conn = ScriptedConnection([(250, b"ok"), (550, b"who"), (554, b"no rcpt"), (250, b"")])
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        wire.sendmail(conn, MESSAGE, SENDER, [RCPT])
    assert info.value.recipients == {RCPT: (550, b"who")}
    assert conn.sent[-1] == b"RSET\r\n" and conn.replies == []
    assert not conn.data_started


def test_data_accepted_after_a_refused_envelope_gets_an_empty_message() -> None:
    conn = ScriptedConnection(
        [(250, b"ok"), (550, b"who"), (354, b"go"), (554, b"empty"), (250, b"")]
    )
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        wire.sendmail(conn, MESSAGE, SENDER, [RCPT])
    assert conn.sent[-2:] == [b".\r\n", b"RSET\r\n"] and conn.replies == []


def test_421_in_the_pipeline_closes_without_reading_further() -> None:
    conn = ScriptedConnection([(250, b"ok"), (421, b"bye"), (221, b"never read")])
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        wire.sendmail(conn, MESSAGE, SENDER, [RCPT])
    assert conn.closed and conn.replies == [(221, b"never read")]


def test_some_recipients_refused_still_sends_and_reports_them() -> None:
    conn = ScriptedConnection([(250, b""), (550, b"who"), (250, b""), (354, b""), (250, b"ok")])
    reply, refused = wire.sendmail(conn, MESSAGE, SENDER, ["x@example.org", RCPT])
    assert reply == (250, b"ok") and refused == {"x@example.org": (550, b"who")}
    assert conn.sent[-1] == MESSAGE + b".\r\n" and conn.data_started


def test_data_bytes_are_trusted_unread() -> None:
    message = wire.DataBytes(b"Subject: x\r\n\r\nbody\r\n")
    assert wire.prepare(message) is message


@pytest.mark.parametrize(
    "address",
    ["a@b.org", "jürgen@bücher.example", "a(b)@x.org", "A <a@b.org>", '"a b"@x.org', "<>"],
)
def test_quote_address_matches_smtplib(address: str) -> None:
    assert wire.quote_address(address) == smtplib.quoteaddr(address)


def test_quote_address_matches_smtplib_on_random_addresses() -> None:
    rng = random.Random(11)
    alphabet = 'ab.@ <>()"\\,;:[]+ü'
    for _ in range(5000):
        address = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))
        assert wire.quote_address(address) == smtplib.quoteaddr(address), address
