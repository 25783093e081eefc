"""Mail transports: one contract for every implementation, then each one's specifics.

SMTP is tested against a real SMTP server (tests/support/smtp_server.py) on 127.0.0.1.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest

from service.mail.errors import MailError, PermanentMailError, TransientMailError
from service.mail.transports import (
    ConsoleTransport,
    FileTransport,
    MemoryTransport,
    SentMessage,
    SMTPTransport,
    Transport,
    transport_from_url,
)
from tests.support.smtp_server import SMTPServer, make_self_signed_cert, server_tls_context

SENDER = "news@example.org"
RCPT = "reader@example.net"
MESSAGE = (
    b"From: News <news@example.org>\r\n"
    b"To: reader@example.net\r\n"
    b"Subject: Issue 1\r\n"
    b"Message-ID: <issue-1@example.org>\r\n"
    b"\r\n"
    b"Hello.\r\n"
    b".a line starting with a dot\r\n"
)
UTF8_SENDER = "nouvelles@exemple.fr"
UTF8_RCPT = "jürgen@bücher.example"
UTF8_MESSAGE = (
    "From: nouvelles@exemple.fr\r\nTo: jürgen@bücher.example\r\nSubject: Grüße\r\n\r\nGrüße!\r\n"
).encode()


def numbered(n: int) -> bytes:
    return MESSAGE.replace(b"Issue 1", f"Issue {n}".encode())


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture(params=[True, False], ids=["pipelining", "one-by-one"])
def server(request) -> Iterator[SMTPServer]:
    """The relay, with and without PIPELINING: every SMTP test runs against both."""
    with SMTPServer(pipelining=request.param) as smtp_server:
        yield smtp_server


@pytest.fixture
def smtp(server: SMTPServer) -> Iterator[SMTPTransport]:
    transport = SMTPTransport(server.host, server.port, timeout=5)
    yield transport
    transport.close()


# -- the contract every transport keeps ----------------------------------------------------


@dataclass
class Kit:
    transport: Transport
    delivered: Callable[[], list[bytes]]  # message bytes, in CRLF form


def _console_messages(out: io.StringIO) -> list[bytes]:
    blocks = re.findall(r"----- mail from [^\n]*\n(.*?)----- end of mail\n", out.getvalue(), re.S)
    return [block.replace("\n", "\r\n").encode() for block in blocks]


@pytest.fixture(params=["smtp", "file", "memory", "console"])
def kit(request, tmp_path) -> Iterator[Kit]:
    if request.param == "smtp":
        with SMTPServer() as smtp_server:
            transport = SMTPTransport(smtp_server.host, smtp_server.port, timeout=5)
            yield Kit(transport, lambda: [m.data for m in smtp_server.messages])
            transport.close()
    elif request.param == "file":
        outbox = tmp_path / "outbox"
        yield Kit(
            FileTransport(outbox),
            lambda: (
                [p.read_bytes() for p in sorted(outbox.glob("*.eml"))] if outbox.exists() else []
            ),
        )
    elif request.param == "memory":
        memory = MemoryTransport()
        yield Kit(memory, lambda: [m.message for m in memory.messages])
    else:
        out = io.StringIO()
        yield Kit(ConsoleTransport(out), lambda: _console_messages(out))


def test_contract_send_delivers_message_and_returns_answer(kit: Kit) -> None:
    answer = kit.transport.send(MESSAGE, SENDER, [RCPT])

    assert isinstance(answer, str) and answer
    assert kit.delivered() == [MESSAGE]


def test_contract_every_message_is_delivered(kit: Kit) -> None:
    for n in range(5):
        kit.transport.send(numbered(n), SENDER, [RCPT])

    assert sorted(kit.delivered()) == sorted(numbered(n) for n in range(5))


def test_contract_accepts_any_sequence_of_recipients(kit: Kit) -> None:
    kit.transport.send(MESSAGE, SENDER, (RCPT, "other@example.net"))

    assert kit.delivered() == [MESSAGE]


def test_contract_smtputf8_addresses(kit: Kit) -> None:
    kit.transport.send(UTF8_MESSAGE, UTF8_SENDER, [UTF8_RCPT], smtputf8=True)

    assert kit.delivered() == [UTF8_MESSAGE]


def test_contract_non_ascii_address_without_smtputf8_is_permanent(kit: Kit) -> None:
    with pytest.raises(PermanentMailError) as info:
        kit.transport.send(UTF8_MESSAGE, UTF8_SENDER, [UTF8_RCPT])

    assert info.value.code is None and "smtputf8" in info.value.response
    assert kit.delivered() == []


@pytest.mark.parametrize(
    ("recipients", "error"),
    [([], ValueError), (RCPT, TypeError), (["a@example.org\r\nRCPT TO:<b@x>"], ValueError)],
    ids=["none", "str-not-list", "line-break"],
)
def test_contract_malformed_envelope_is_refused_before_sending(kit: Kit, recipients, error):
    with pytest.raises(error):
        kit.transport.send(MESSAGE, SENDER, recipients)

    assert kit.delivered() == []


def test_contract_message_must_be_bytes(kit: Kit) -> None:
    with pytest.raises(TypeError):
        kit.transport.send(MESSAGE.decode(), SENDER, [RCPT])


def test_contract_close_is_idempotent_and_transport_still_works(kit: Kit) -> None:
    kit.transport.send(numbered(1), SENDER, [RCPT])
    kit.transport.close()
    kit.transport.close()
    kit.transport.send(numbered(2), SENDER, [RCPT])

    assert sorted(kit.delivered()) == [numbered(1), numbered(2)]


def test_contract_context_manager_returns_transport(kit: Kit) -> None:
    with kit.transport as transport:
        assert transport is kit.transport
        transport.send(MESSAGE, SENDER, [RCPT])

    assert kit.delivered() == [MESSAGE]


# -- SMTP ----------------------------------------------------------------------------------


def test_smtp_delivers_exact_bytes_with_envelope(server: SMTPServer, smtp: SMTPTransport):
    answer = smtp.send(MESSAGE, SENDER, [RCPT, "second@example.net"])

    [received] = server.wait_for(1)
    assert answer == "250 2.0.0 OK queued"
    assert received.sender == SENDER
    assert received.recipients == (RCPT, "second@example.net")
    assert received.data == MESSAGE
    assert received.message["Subject"] == "Issue 1"


def test_smtp_sends_bare_line_feeds_as_crlf(server: SMTPServer, smtp: SMTPTransport) -> None:
    smtp.send(MESSAGE.replace(b"\r\n", b"\n"), SENDER, [RCPT])

    assert server.wait_for(1)[0].data == MESSAGE


def test_smtp_reuses_one_connection(server: SMTPServer, smtp: SMTPTransport) -> None:
    for n in range(30):
        smtp.send(numbered(n), SENDER, [RCPT])

    assert len(server.wait_for(30)) == 30
    assert server.sessions == 1


def test_smtp_connects_lazily(server: SMTPServer, smtp: SMTPTransport) -> None:
    assert server.sessions == 0
    smtp.send(MESSAGE, SENDER, [RCPT])
    assert server.sessions == 1


def test_smtp_reconnects_when_server_dropped_the_connection(server, smtp) -> None:
    smtp.send(numbered(1), SENDER, [RCPT])
    server.drop_connections()

    smtp.send(numbered(2), SENDER, [RCPT])

    assert [m.data for m in server.wait_for(2)] == [numbered(1), numbered(2)]
    assert server.sessions == 2


def test_smtp_reconnects_after_server_restart_on_same_port(server, smtp) -> None:
    smtp.send(numbered(1), SENDER, [RCPT])
    port = server.port
    server.stop()
    server.start()

    smtp.send(numbered(2), SENDER, [RCPT])

    assert server.port == port
    assert [m.data for m in server.wait_for(2)] == [numbered(1), numbered(2)]


def test_smtp_server_gone_for_good_is_transient(server, smtp) -> None:
    smtp.send(numbered(1), SENDER, [RCPT])
    server.stop()

    with pytest.raises(TransientMailError) as info:
        smtp.send(numbered(2), SENDER, [RCPT])

    assert info.value.code is None


def test_smtp_421_is_transient_and_next_message_goes_through(server, smtp) -> None:
    server.fail_next(421, "4.7.0 Try again later")

    with pytest.raises(TransientMailError) as info:
        smtp.send(numbered(1), SENDER, [RCPT])
    smtp.send(numbered(2), SENDER, [RCPT])

    assert info.value.code == 421
    assert info.value.response == "4.7.0 Try again later"
    assert [m.data for m in server.wait_for(1)] == [numbered(2)]
    assert server.sessions == 2  # the relay closed the first session after its 421


def test_smtp_421_after_data_is_not_retried(server, smtp) -> None:
    server.fail_next(421, "4.3.0 Shutting down", on="DATA")

    with pytest.raises(TransientMailError) as info:
        smtp.send(MESSAGE, SENDER, [RCPT])

    assert info.value.code == 421
    assert server.messages == []
    assert server.sessions == 1


def test_smtp_drop_before_data_is_retried_once_on_a_new_connection(server, smtp) -> None:
    server.drop_next(on="MAIL")

    smtp.send(MESSAGE, SENDER, [RCPT])

    assert [m.data for m in server.wait_for(1)] == [MESSAGE]
    assert server.sessions == 2


def test_smtp_drop_on_both_attempts_is_transient(server, smtp) -> None:
    server.drop_next(times=2, on="RCPT")

    with pytest.raises(TransientMailError) as info:
        smtp.send(MESSAGE, SENDER, [RCPT])
    smtp.send(MESSAGE, SENDER, [RCPT])

    assert info.value.code is None
    assert server.sessions == 3 and len(server.wait_for(1)) == 1


def test_smtp_drop_after_data_is_not_retried(server, smtp) -> None:
    server.drop_next(on="DATA")  # the relay may or may not have the message now

    with pytest.raises(TransientMailError) as info:
        smtp.send(MESSAGE, SENDER, [RCPT])

    assert info.value.code is None and "lost" in info.value.response
    assert server.sessions == 1


@pytest.mark.parametrize("on", ["MAIL", "RCPT", "DATA"])
@pytest.mark.parametrize(
    ("code", "text", "error"),
    [(451, "4.3.0 Local error", TransientMailError), (554, "5.7.1 Rejected", PermanentMailError)],
)
def test_smtp_refusal_is_classed_by_its_code_and_session_stays_usable(
    server, smtp, on, code, text, error
) -> None:
    """4xx is worth another try, 5xx is not; either way the session carries on."""
    server.fail_next(code, text, on=on)

    with pytest.raises(error) as info:
        smtp.send(numbered(1), SENDER, [RCPT])
    smtp.send(numbered(2), SENDER, [RCPT])

    assert (info.value.code, info.value.response) == (code, text)
    assert [m.data for m in server.wait_for(1)] == [numbered(2)]
    assert server.sessions == 1


def test_smtp_unknown_user_is_permanent_with_refused_recipient(server, smtp) -> None:
    server.fail_next(550, "5.1.1 No such user", times=None, recipient=RCPT)

    for _ in range(2):
        with pytest.raises(PermanentMailError) as info:
            smtp.send(MESSAGE, SENDER, [RCPT])
        assert info.value.code == 550
        assert info.value.refused == {RCPT: (550, "5.1.1 No such user")}
    assert server.messages == []


def test_smtp_some_recipients_refused_returns_and_names_them(server, smtp) -> None:
    server.fail_next(550, "5.1.1 No such user", times=None, recipient="gone@example.net")

    answer = smtp.send(MESSAGE, SENDER, [RCPT, "gone@example.net"])

    assert answer.startswith("250 ")
    assert "gone@example.net" in answer and "550 5.1.1 No such user" in answer
    assert server.wait_for(1)[0].recipients == (RCPT,)


def test_smtp_all_refused_with_a_temporary_refusal_is_transient(server, smtp) -> None:
    server.fail_next(550, "5.1.1 No such user", recipient="gone@example.net")
    server.fail_next(452, "4.2.2 Mailbox full", recipient=RCPT)

    with pytest.raises(TransientMailError) as info:
        smtp.send(MESSAGE, SENDER, ["gone@example.net", RCPT])

    assert info.value.code == 452
    assert set(info.value.refused) == {"gone@example.net", RCPT}


def test_smtp_connection_refused_is_transient_and_quick() -> None:
    transport = SMTPTransport("127.0.0.1", unused_port(), timeout=5)
    started = time.monotonic()

    with pytest.raises(TransientMailError) as info:
        transport.send(MESSAGE, SENDER, [RCPT])

    assert time.monotonic() - started < 1
    assert info.value.code is None and "refused" in info.value.response.lower()


def test_smtp_silent_server_times_out_as_transient() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts, never greets
        transport = SMTPTransport("127.0.0.1", listener.getsockname()[1], timeout=0.3)
        started = time.monotonic()
        with pytest.raises(TransientMailError):
            transport.send(MESSAGE, SENDER, [RCPT])
    assert 0.2 < time.monotonic() - started < 3


def test_smtp_smtputf8_delivery(server: SMTPServer, smtp: SMTPTransport) -> None:
    smtp.send(UTF8_MESSAGE, UTF8_SENDER, [UTF8_RCPT], smtputf8=True)

    [received] = server.wait_for(1)
    assert received.smtputf8 is True
    assert (received.sender, received.recipients) == (UTF8_SENDER, (UTF8_RCPT,))
    assert received.message["To"] == UTF8_RCPT
    assert "BODY=8BITMIME" in received.mail_options


def test_smtp_smtputf8_unsupported_by_relay_is_permanent() -> None:
    with SMTPServer(enable_smtputf8=False) as server:
        with SMTPTransport(server.host, server.port, timeout=5) as transport:
            with pytest.raises(PermanentMailError, match="SMTPUTF8"):
                transport.send(UTF8_MESSAGE, UTF8_SENDER, [UTF8_RCPT], smtputf8=True)
            transport.send(MESSAGE, SENDER, [RCPT])

        assert len(server.wait_for(1)) == 1


def test_smtp_close_closes_the_connection(server: SMTPServer, smtp: SMTPTransport) -> None:
    smtp.send(MESSAGE, SENDER, [RCPT])
    assert server.open_connections == 1

    smtp.close()

    assert wait_until(lambda: server.open_connections == 0)


def test_smtp_logs_in_with_url_decoded_credentials() -> None:
    with SMTPServer(credentials={"user@example.org": "p@ss:w/rd%"}) as server:
        url = f"smtp://user%40example.org:p%40ss%3Aw%2Frd%25@127.0.0.1:{server.port}"
        with transport_from_url(url) as transport:
            transport.send(MESSAGE, SENDER, [RCPT])

        assert server.logins == [("user@example.org", "p@ss:w/rd%", True)]


def test_smtp_rejected_login_is_transient() -> None:
    with (
        SMTPServer(credentials={"user": "right"}) as server,
        SMTPTransport(server.host, server.port, username="user", password="wrong") as transport,
        pytest.raises(TransientMailError) as info,
    ):
        transport.send(MESSAGE, SENDER, [RCPT])

    assert info.value.code == 535
    assert server.messages == []


def test_smtp_starttls_not_offered_is_transient(server: SMTPServer) -> None:
    with (
        SMTPTransport(server.host, server.port, tls="starttls", timeout=5) as transport,
        pytest.raises(TransientMailError, match="STARTTLS"),
    ):
        transport.send(MESSAGE, SENDER, [RCPT])

    assert server.messages == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    try:
        return make_self_signed_cert(tmp_path_factory.mktemp("tls"))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"the TLS tests need openssl to make a certificate: {exc}")


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_smtp_tls_delivers_and_verifies_certificate(certificate, tls) -> None:
    cert, key = certificate
    context = server_tls_context(cert, key)
    with SMTPServer(tls_context=context, implicit_tls=tls == "implicit") as server:
        trusting = ssl.create_default_context(cafile=str(cert))
        with SMTPTransport(server.host, server.port, tls=tls, ssl_context=trusting) as transport:
            transport.send(MESSAGE, SENDER, [RCPT])
        with (
            SMTPTransport(server.host, server.port, tls=tls, timeout=5) as transport,
            pytest.raises(TransientMailError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            transport.send(MESSAGE, SENDER, [RCPT])

        assert [m.data for m in server.wait_for(1)] == [MESSAGE]


# -- file, console, memory -----------------------------------------------------------------


def test_file_writes_exact_parseable_eml(tmp_path: Path) -> None:
    outbox = tmp_path / "deep" / "outbox"

    answer = FileTransport(outbox).send(MESSAGE, SENDER, [RCPT])

    [path] = outbox.iterdir()
    assert answer == f"written {path}"
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{32}\.eml", path.name)
    assert path.read_bytes() == MESSAGE
    with path.open("rb") as fh:
        parsed = BytesParser(policy=default).parse(fh)
    assert parsed["Subject"] == "Issue 1"
    assert parsed.get_content() == "Hello.\n.a line starting with a dot\n"


def test_file_names_are_unique(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path)
    for _ in range(20):
        transport.send(MESSAGE, SENDER, [RCPT])

    assert len(list(tmp_path.glob("*.eml"))) == 20


def test_file_write_is_atomic(tmp_path: Path, monkeypatch) -> None:
    real_replace, seen = os.replace, []

    def spying_replace(src, dst):
        seen.append((Path(src), Path(dst), Path(src).read_bytes(), Path(dst).exists()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spying_replace)
    FileTransport(tmp_path).send(MESSAGE, SENDER, [RCPT])

    [(src, dst, content_before_rename, dst_existed)] = seen
    assert src.parent == dst.parent == tmp_path
    assert src.name.startswith(".") and not src.name.endswith(".eml")
    assert content_before_rename == MESSAGE and not dst_existed
    assert [p.name for p in tmp_path.iterdir()] == [dst.name]


def test_file_failed_write_leaves_nothing_and_is_transient(tmp_path: Path, monkeypatch):
    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)

    with pytest.raises(TransientMailError, match="No space left"):
        FileTransport(tmp_path).send(MESSAGE, SENDER, [RCPT])

    assert list(tmp_path.iterdir()) == []


def test_file_unusable_directory_is_transient(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("not a directory")

    with pytest.raises(TransientMailError):
        FileTransport(blocker).send(MESSAGE, SENDER, [RCPT])


def test_console_prints_envelope_and_message_to_stdout(capsys) -> None:
    answer = ConsoleTransport().send(MESSAGE, SENDER, [RCPT, "b@example.net"])

    out = capsys.readouterr().out
    assert answer == "printed to console"
    assert f"<{SENDER}> to <{RCPT}>, <b@example.net>" in out
    assert "Subject: Issue 1\n" in out and "\r" not in out


def test_memory_keeps_sent_messages() -> None:
    memory = MemoryTransport()

    memory.send(MESSAGE, SENDER, [RCPT])
    memory.send(UTF8_MESSAGE, UTF8_SENDER, (UTF8_RCPT,), smtputf8=True)

    assert memory.messages == [
        SentMessage(SENDER, (RCPT,), MESSAGE),
        SentMessage(UTF8_SENDER, (UTF8_RCPT,), UTF8_MESSAGE, smtputf8=True),
    ]


# -- transport_from_url --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", ("mail.example.org", 25, "none", 30.0, None, None)),
        (
            "smtp://u%40example.org:p%3Aw%2F%40rd@mail.example.org:587?tls=starttls&timeout=10",
            ("mail.example.org", 587, "starttls", 10.0, "u@example.org", "p:w/@rd"),
        ),
        ("smtp://relay:2525?tls=none", ("relay", 2525, "none", 30.0, None, None)),
        ("SMTP://relay/?timeout=2.5", ("relay", 25, "none", 2.5, None, None)),
        ("smtp://[::1]:2525", ("::1", 2525, "none", 30.0, None, None)),
        ("smtps://u:p@mail.example.org", ("mail.example.org", 465, "implicit", 30.0, "u", "p")),
        ("smtps://mail.example.org:2465", ("mail.example.org", 2465, "implicit", 30.0, None, None)),
        ("smtp://u+x:a+b@relay", ("relay", 25, "none", 30.0, "u+x", "a+b")),
    ],
)
def test_url_smtp(url: str, expected: tuple) -> None:
    transport = transport_from_url(url)

    assert isinstance(transport, SMTPTransport)
    got = (transport.host, transport.port, transport.tls, transport.timeout)
    assert (*got, transport.username, transport.password) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "mail.example.org",
        "ftp://mail.example.org",
        "smtp://",
        "smtp://relay?tls=ssl",
        "smtps://relay?tls=starttls",
        "smtp://relay?tsl=starttls",
        "smtp://relay:99999",
        "smtp://relay:port",
        "smtp://relay:0",
        "smtp://relay?timeout=0",
        "smtp://relay?timeout=soon",
        "smtp://relay/path",
        "smtp://:secret@relay",
        "file://",
        "file:///tmp/x?mode=600",
    ],
)
def test_url_invalid_raises_value_error(url: str) -> None:
    with pytest.raises(ValueError):
        transport_from_url(url)


def test_url_unknown_scheme_names_the_accepted_ones() -> None:
    with pytest.raises(ValueError) as info:
        transport_from_url("sendgrid://key@api")

    for scheme in ("smtp://", "smtps://", "file://", "console://", "memory://"):
        assert scheme in str(info.value)


def test_url_errors_do_not_reveal_the_password() -> None:
    with pytest.raises(ValueError) as info:
        transport_from_url("smtp://user:hunter2@relay?tls=bogus")

    assert "hunter2" not in str(info.value)


def test_url_file_absolute(tmp_path: Path) -> None:
    transport = transport_from_url(f"file://{tmp_path}/out%20box", base_dir="/elsewhere")

    assert isinstance(transport, FileTransport)
    assert transport.directory == tmp_path / "out box"


def test_url_file_relative_goes_under_base_dir(tmp_path: Path) -> None:
    transport = transport_from_url("file://instance/outbox", base_dir=tmp_path)
    transport.send(MESSAGE, SENDER, [RCPT])

    assert transport.directory == tmp_path / "instance" / "outbox"
    assert len(list((tmp_path / "instance" / "outbox").glob("*.eml"))) == 1


def test_url_file_relative_without_base_dir_uses_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    transport = transport_from_url("file://outbox")

    assert transport.directory == tmp_path / "outbox"


@pytest.mark.parametrize(
    ("url", "cls"), [("console://", ConsoleTransport), ("memory://", MemoryTransport)]
)
def test_url_console_and_memory(url: str, cls: type) -> None:
    assert isinstance(transport_from_url(url), cls)


# -- errors --------------------------------------------------------------------------------


def test_errors_hierarchy_str_and_pickling() -> None:
    error = PermanentMailError(550, "5.1.1 No such user", {RCPT: (550, "5.1.1 No such user")})

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert isinstance(copy, PermanentMailError) and isinstance(copy, MailError)
    assert (copy.code, copy.response, copy.refused) == (error.code, error.response, error.refused)
    assert str(error) == "550 5.1.1 No such user"
    assert str(TransientMailError(None, "connection refused")) == "connection refused"
    assert TransientMailError(421, "busy").refused == {}
    assert not issubclass(TransientMailError, PermanentMailError)
