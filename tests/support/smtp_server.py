"""A real SMTP server for tests: aiosmtpd in a background thread on 127.0.0.1.

    with SMTPServer() as server:
        transport_from_url(server.url).send(raw, "a@example.org", ["b@example.org"])
        [received] = server.wait_for(1)

It binds a free port (kept across ``stop()``/``start()``), accepts SMTPUTF8, counts
client sessions, and can be told to answer like a troubled relay::

    server.fail_next(421, "4.7.0 Try again later")                      # next RCPT, once
    server.fail_next(550, "5.1.1 No such user", times=None, recipient="x@example.org")
    server.drop_next(on="DATA")              # close the connection instead of answering
    server.drop_connections()                # like a relay's idle timeout

Like Postfix it advertises PIPELINING (``pipelining=False`` to leave it out); aiosmtpd reads
commands one line at a time, so pipelined commands are answered in order.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, syntax

COMMANDS = ("MAIL", "RCPT", "DATA")


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server accepted."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes  # exactly as received, dot-unstuffed
    message: EmailMessage  # ``data`` parsed with email.policy.default
    smtputf8: bool
    mail_options: tuple[str, ...]
    received_at: float = 0.0  # time.monotonic() when the server accepted it


@dataclass
class _Failure:
    code: int | None  # None: close the connection without answering
    text: str
    on: str
    times: int | None
    recipient: str | None


class SMTPServer:
    """A real SMTP server on 127.0.0.1 for tests; see the module docstring.

    ``tls_context`` (a server-side SSLContext) offers STARTTLS, or with ``implicit_tls``
    wraps every connection (smtps). ``credentials`` ({user: password}) offers AUTH
    PLAIN/LOGIN without TLS and records attempts in ``logins``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        enable_smtputf8: bool = True,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        credentials: dict[str, str] | None = None,
        pipelining: bool = True,
    ) -> None:
        self.host = host
        self.pipelining = pipelining
        self.port = port  # the bound port once started
        self.enable_smtputf8 = enable_smtputf8
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.credentials = credentials
        self._cond = threading.Condition()
        self._messages: list[ReceivedMessage] = []
        self._failures: list[_Failure] = []
        self._logins: list[tuple[str, str, bool]] = []
        self._sessions = 0
        self._live: set[_RecordingSMTP] = set()
        self._controller: _Controller | None = None

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> SMTPServer:
        """Start listening (on the same port as before after a ``stop()``)."""
        if self._controller is not None:
            raise RuntimeError("SMTPServer already started")
        kwargs: dict = {"enable_SMTPUTF8": self.enable_smtputf8, "server_hostname": "smtp.test"}
        if self.tls_context is not None and self.implicit_tls:
            kwargs["ssl_context"] = self.tls_context
        elif self.tls_context is not None:
            kwargs["tls_context"] = self.tls_context
        if self.credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        controller = _Controller(self, _Handler(self), hostname=self.host, port=self.port, **kwargs)
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        """Close all client connections and stop listening; a no-op if not started."""
        if self._controller is None:
            return
        self.drop_connections()
        controller, self._controller = self._controller, None
        controller.stop()

    def __enter__(self) -> SMTPServer:
        return self if self._controller is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``smtp://127.0.0.1:PORT`` (``smtps://`` with implicit TLS)."""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"

    # -- what happened -------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot of the messages received so far."""
        with self._cond:
            return list(self._messages)

    @property
    def sessions(self) -> int:
        """Client connections that sent EHLO/HELO (start-up probes don't count)."""
        with self._cond:
            return self._sessions

    @property
    def open_connections(self) -> int:
        """Client connections open right now."""
        with self._cond:
            return len(self._live)

    @property
    def logins(self) -> list[tuple[str, str, bool]]:
        """AUTH attempts as ``(user, password, accepted)``."""
        with self._cond:
            return list(self._logins)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Wait until ``count`` messages arrived; return them all (TimeoutError if not)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= count, timeout):
                got = len(self._messages)
                raise TimeoutError(f"expected {count} message(s) within {timeout}s, got {got}")
            return list(self._messages)

    def wait_for_recipient(self, address: str, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Wait until a message to ``address`` arrived; return the messages to it.

        Other tests' mail may still be arriving on a shared server, so tests that wait for
        their own message wait for it by recipient, not by count.
        """

        def mine() -> list[ReceivedMessage]:
            return [m for m in self._messages if address in m.recipients]

        with self._cond:
            if not self._cond.wait_for(mine, timeout):
                raise TimeoutError(f"no message to {address} within {timeout}s")
            return mine()

    def clear(self) -> None:
        """Forget messages, logins, the session count and pending failures."""
        with self._cond:
            self._messages.clear()
            self._failures.clear()
            self._logins.clear()
            self._sessions = 0

    def clear_failures(self) -> None:
        """Forget the pending programmed failures (the relay is healthy again)."""
        with self._cond:
            self._failures.clear()

    # -- programmable relay ----------------------------------------------------------

    def fail_next(
        self,
        code: int,
        message: str,
        times: int | None = 1,
        on: str = "RCPT",
        recipient: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching commands with ``code message`` (None: always).

        ``on`` is MAIL, RCPT or DATA; with ``recipient`` only that RCPT address (or, on
        DATA, messages to it) fails. After a 421 the server closes the connection, as
        relays do. Failures are matched in the order they were added.
        """
        if not 400 <= code <= 599:
            raise ValueError(f"a failure code is 4xx or 5xx, not {code}")
        self._add_failure(_Failure(code, message, on.upper(), times, recipient))

    def drop_next(self, times: int | None = 1, on: str = "DATA", recipient: str | None = None):
        """Like ``fail_next`` but close the connection instead of answering.

        On DATA this happens after the whole message was received: the client cannot
        tell whether it was accepted (nothing is recorded in ``messages``).
        """
        self._add_failure(_Failure(None, "", on.upper(), times, recipient))

    def _add_failure(self, failure: _Failure) -> None:
        if failure.on not in COMMANDS:
            raise ValueError(f"on must be one of {COMMANDS}, not {failure.on!r}")
        if failure.times is not None and failure.times < 1:
            raise ValueError("times must be None or at least 1")
        with self._cond:
            self._failures.append(failure)

    def drop_connections(self, timeout: float = 5.0) -> None:
        """Close every client connection from the server side (like an idle timeout)."""
        if self._controller is None:
            return
        loop, done = self._controller.loop, threading.Event()

        def close_all() -> None:
            for protocol in list(self._live):
                if protocol.transport is not None:
                    protocol.transport.close()
            loop.call_soon(done.set)  # runs after the transports' connection_lost

        loop.call_soon_threadsafe(close_all)
        if not done.wait(timeout):
            raise TimeoutError("SMTPServer could not drop its connections")

    # -- called from the server thread ------------------------------------------------

    def _take_failure(self, on: str, addresses: list[str]) -> _Failure | None:
        wanted = {address.casefold() for address in addresses}
        with self._cond:
            for failure in self._failures:
                if failure.on != on:
                    continue
                if failure.recipient is not None and failure.recipient.casefold() not in wanted:
                    continue
                if failure.times is not None:
                    failure.times -= 1
                    if failure.times == 0:
                        self._failures.remove(failure)
                return failure
        return None

    def _record(self, envelope) -> None:
        data = bytes(envelope.original_content)
        received = ReceivedMessage(
            sender=envelope.mail_from,
            recipients=tuple(envelope.rcpt_tos),
            data=data,
            message=BytesParser(policy=default).parsebytes(data),
            smtputf8=envelope.smtp_utf8,
            mail_options=tuple(envelope.mail_options),
            received_at=time.monotonic(),
        )
        with self._cond:
            self._messages.append(received)
            self._cond.notify_all()

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        user = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        accepted = (self.credentials or {}).get(user) == password
        with self._cond:
            self._logins.append((user, password, accepted))
        return AuthResult(success=accepted, handled=False)  # handled=False: server replies

    def _connection_opened(self, protocol: _RecordingSMTP) -> None:
        with self._cond:
            self._live.add(protocol)

    def _connection_closed(self, protocol: _RecordingSMTP) -> None:
        with self._cond:
            self._live.discard(protocol)

    def _session_started(self) -> None:
        with self._cond:
            self._sessions += 1


class _Handler:
    """aiosmtpd hooks: programmed failures first, otherwise accept and record."""

    def __init__(self, owner: SMTPServer) -> None:
        self.owner = owner

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # aiosmtpd leaves this to a hook of this form
        if self.owner.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        failure = self.owner._take_failure("MAIL", [])
        if failure:
            return await _answer(server, failure)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        failure = self.owner._take_failure("RCPT", [address])
        if failure:
            return await _answer(server, failure)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        failure = self.owner._take_failure("DATA", envelope.rcpt_tos)
        if failure:
            return await _answer(server, failure)
        self.owner._record(envelope)
        return "250 2.0.0 OK queued"


async def _answer(server: SMTP, failure: _Failure) -> str:
    """The reply for ``failure``; after a 421 (or instead of replying) close the connection."""
    if failure.code is None:
        server.transport.close()
        await asyncio.Event().wait()  # cancelled when the connection is gone
    if failure.code == 421:
        server.loop.call_soon(lambda: server.transport and server.transport.close())
    return f"{failure.code} {failure.text}"


class _RecordingSMTP(SMTP):
    """aiosmtpd's SMTP, telling its owner about connections and greetings."""

    def __init__(self, owner: SMTPServer, handler, **kwargs) -> None:
        super().__init__(handler, **kwargs)
        self.owner = owner
        self.greeted = False

    def connection_made(self, transport) -> None:
        first = self.transport is None  # STARTTLS calls this again on the same protocol
        super().connection_made(transport)
        if first:
            self.owner._connection_opened(self)

    def connection_lost(self, error) -> None:
        self.owner._connection_closed(self)
        super().connection_lost(error)

    @syntax("HELO hostname")
    async def smtp_HELO(self, hostname: str) -> None:
        await super().smtp_HELO(hostname)
        self._note_greeting()

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        await super().smtp_EHLO(hostname)
        self._note_greeting()

    def _note_greeting(self) -> None:
        if self.session is not None and self.session.host_name and not self.greeted:
            self.greeted = True
            self.owner._session_started()


class _Controller(Controller):
    """aiosmtpd Controller that binds port 0 (a free port) and records connections."""

    def __init__(self, owner: SMTPServer, handler, **kwargs) -> None:
        super().__init__(handler, ready_timeout=5.0, **kwargs)
        self.owner = owner

    def factory(self) -> SMTP:
        return _RecordingSMTP(self.owner, self.handler, **self.SMTP_kwargs)

    def _create_server(self):
        return self._bind()

    async def _bind(self):
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
        )
        self.port = server.sockets[0].getsockname()[1]  # read by start() after ready_event
        return server


def make_self_signed_cert(directory: str | Path) -> tuple[Path, Path]:
    """Write a throw-away certificate for 127.0.0.1/localhost; return (cert, key) paths.

    Uses the ``openssl`` command (FileNotFoundError if missing: skip TLS tests then).
    """
    cert, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=localhost"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side SSLContext for :class:`SMTPServer` from ``make_self_signed_cert``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
