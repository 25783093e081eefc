"""Mail transports: how a finished message leaves the service.

A transport takes the message as bytes plus its envelope (sender, recipients) and hands
it on: to an SMTP relay, into a directory, to stdout or into a list. Pick one by URL::

    smtp://user:pass@host:587?tls=starttls&timeout=10   tls: none (default) or starttls
    smtps://user:pass@host                              implicit TLS, port 465
    file:///var/spool/outbox                            file://instance/outbox: under base_dir
    console://                                          memory://

``send`` returns the relay's answer or raises ``TransientMailError`` (retry later) or
``PermanentMailError`` (never retry); a malformed envelope (no recipients, a line break
in an address) raises ``ValueError``, as it is a programming error. Transports are NOT
thread-safe: use one per thread or worker process. SMTP answer times go to the metrics.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import socket
import ssl
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from service import metrics

from . import wire
from .errors import MailError, PermanentMailError, TransientMailError, connection_lost

DEFAULT_TIMEOUT = 30.0
SCHEMES = ("smtp", "smtps", "file", "console", "memory")
TLS_MODES = ("none", "starttls", "implicit")


class Transport(Protocol):
    """Hands finished messages to their next hop."""

    def send(
        self, message: bytes, sender: str, recipients: Sequence[str], *, smtputf8: bool = False
    ) -> str:
        """Send ``message`` to ``recipients`` and return the relay's answer text."""
        ...

    def close(self) -> None:
        """Release connections; the transport still works (and reopens) afterwards."""
        ...


@dataclass(frozen=True)
class SentMessage:
    """A message kept by :class:`MemoryTransport`."""

    sender: str
    recipients: tuple[str, ...]
    message: bytes
    smtputf8: bool = False


class _Closable:
    """Context-manager support; ``close`` does nothing unless overridden."""

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check_envelope(
    message: bytes, sender: str, recipients: Sequence[str], smtputf8: bool
) -> tuple[bytes, list[str]]:
    """Validate what every transport accepts; return the message and recipients."""
    if not isinstance(message, (bytes, bytearray)):
        raise TypeError(f"message must be bytes, not {type(message).__name__}")
    if isinstance(recipients, str):
        raise TypeError("recipients must be a sequence of addresses, not a str")
    recipients = list(recipients)
    if not recipients:
        raise ValueError("a message needs at least one recipient")
    for address in (sender, *recipients):
        if not isinstance(address, str):
            raise TypeError(f"addresses must be str, not {type(address).__name__}")
        if "\r" in address or "\n" in address:
            raise ValueError(f"line break in address {address!r}")
        if not smtputf8 and not address.isascii():
            raise PermanentMailError(None, f"non-ASCII address {address!r} needs smtputf8=True")
    return message if isinstance(message, bytes) else bytes(message), recipients


def _decode(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _reply_error(code: int, text: bytes | str, refused=None) -> MailError:
    """Map an SMTP reply to an error: 5xx is permanent, anything else transient."""
    cls = PermanentMailError if 500 <= code <= 599 else TransientMailError
    return cls(code if 100 <= code <= 599 else None, _decode(text), refused)


def _refused_error(recipients: dict[str, tuple[int, bytes]]) -> MailError:
    """All recipients were refused: transient if any refusal was, else permanent."""
    refused = {rcpt: (code, _decode(text)) for rcpt, (code, text) in recipients.items()}
    if not refused:
        return TransientMailError(None, "all recipients refused")
    replies = list(refused.values())
    transient = [reply for reply in replies if not 500 <= reply[0] <= 599]
    code, text = (transient or replies)[0]
    return _reply_error(code, text, refused)


class SMTPTransport(_Closable):
    """Sends through an SMTP relay over ONE persistent connection, opened lazily.

    If the relay dropped the connection (idle timeout, restart) before the message's DATA
    started, the message is retried once on a new connection; a drop during or after DATA
    raises ``TransientMailError`` instead, since the relay may have the message already.
    Bare LF/CR line ends are sent as CRLF, as SMTP requires (a message already in DATA form
    goes out as it is, see `wire.prepare`); MAIL, RCPT and DATA are pipelined when the relay
    offers PIPELINING. Errors while opening the
    session (greeting, EHLO, STARTTLS, AUTH) are transient whatever their code: they say
    nothing about the message. Not thread-safe: use one instance per thread.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: str = "none",
        timeout: float = DEFAULT_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {', '.join(TLS_MODES)}, not {tls!r}")
        self.host = host
        self.port = port or (465 if tls == "implicit" else 25)
        self.username = username
        self.password = password
        self.tls = tls
        self.timeout = timeout
        self.local_hostname = local_hostname
        self._ssl_context = ssl_context
        self._conn: smtplib.SMTP | None = None

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def send(
        self, message: bytes, sender: str, recipients: Sequence[str], *, smtputf8: bool = False
    ) -> str:
        """Send one message; return the relay's DATA answer (plus refused recipients)."""
        message, recipients = _check_envelope(message, sender, recipients, smtputf8)
        message = wire.prepare(message)
        for attempt in (1, 2):
            conn = self._connection()
            try:
                with metrics.smtp_timer():  # the relay's answer time, by its class
                    return self._transaction(conn, message, sender, recipients, smtputf8)
            except smtplib.SMTPServerDisconnected as exc:
                self._discard()
                if attempt == 1 and not getattr(conn, "data_started", False):
                    continue  # dropped while idle: nothing was sent, so retry once
                raise connection_lost(f"connection to {self._where} lost: {exc}", conn) from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except OSError:  # smtplib errors are OSErrors too
                pass
            finally:
                conn.close()

    def _transaction(self, conn, message, sender, recipients, smtputf8) -> str:
        options = []
        if smtputf8:
            if not conn.has_extn("smtputf8"):
                raise PermanentMailError(None, f"relay {self._where} does not support SMTPUTF8")
            options.append("SMTPUTF8")
        if not message.isascii() and conn.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        try:
            (code, text), refused = wire.sendmail(conn, message, sender, recipients, options)
        except smtplib.SMTPServerDisconnected:
            raise
        except smtplib.SMTPRecipientsRefused as exc:  # smtplib did RSET (or closed on 421)
            raise _refused_error(exc.recipients) from exc
        except smtplib.SMTPResponseException as exc:  # likewise
            raise _reply_error(exc.smtp_code, exc.smtp_error) from exc
        except OSError as exc:  # session state unknown: start afresh next time
            self._discard()
            raise connection_lost(f"sending via {self._where} failed: {exc}", conn) from exc
        except BaseException:
            self._discard()
            raise
        answer = f"{code} {_decode(text)}".strip()
        if refused:
            listed = ", ".join(f"{rcpt} ({c} {_decode(t)})" for rcpt, (c, t) in refused.items())
            answer += f"; refused: {listed}"
        return answer

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None and self._conn.sock is None:
            self._conn = None  # smtplib closed it, e.g. after a 421 reply
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> smtplib.SMTP:
        if self.tls != "none" and self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        conn = None
        try:
            if self.tls == "implicit":
                conn = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=self._ssl_context,
                )
            else:
                conn = smtplib.SMTP(
                    self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
                )
            # Each command waits for its reply: do not let Nagle hold small writes back.
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo_or_helo_if_needed()
            if self.tls == "starttls":
                conn.starttls(context=self._ssl_context)
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password or "")
        except OSError as exc:  # includes every smtplib error
            if conn is not None:
                conn.close()
            if isinstance(exc, smtplib.SMTPResponseException):
                raise TransientMailError(exc.smtp_code, _decode(exc.smtp_error)) from exc
            raise TransientMailError(None, f"no SMTP session with {self._where}: {exc}") from exc
        return conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class FileTransport(_Closable):
    """Writes each message to ``<directory>/<UTC time>-<uuid4 hex>.eml``.

    The file holds exactly the message bytes (it opens in a mail client; the envelope
    is not kept) and appears atomically: it is written under a temporary dot-name in the
    same directory, then renamed. The directory is created when needed. Files are 0600.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def send(
        self, message: bytes, sender: str, recipients: Sequence[str], *, smtputf8: bool = False
    ) -> str:
        """Write the message; return ``"written <path>"``."""
        message, _ = _check_envelope(message, sender, recipients, smtputf8)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex}.eml"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(message)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise TransientMailError(None, f"cannot write {path}: {exc}") from exc
        return f"written {path}"


class ConsoleTransport(_Closable):
    """Prints each message and its envelope to stdout (or ``stream``): for development."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(
        self, message: bytes, sender: str, recipients: Sequence[str], *, smtputf8: bool = False
    ) -> str:
        """Print the message; return ``"printed to console"``."""
        message, recipients = _check_envelope(message, sender, recipients, smtputf8)
        text = message.decode("utf-8", "replace").replace("\r\n", "\n")
        out = self.stream or sys.stdout
        out.write(f"----- mail from <{sender}> to {', '.join(f'<{r}>' for r in recipients)}\n")
        out.write(text if text.endswith("\n") else text + "\n")
        out.write("----- end of mail\n")
        out.flush()
        return "printed to console"


class MemoryTransport(_Closable):
    """Keeps each message in ``messages`` (a list of :class:`SentMessage`): for tests."""

    def __init__(self) -> None:
        self.messages: list[SentMessage] = []

    def send(
        self, message: bytes, sender: str, recipients: Sequence[str], *, smtputf8: bool = False
    ) -> str:
        """Append the message; return ``"kept in memory as message #N"``."""
        message, recipients = _check_envelope(message, sender, recipients, smtputf8)
        self.messages.append(SentMessage(sender, tuple(recipients), message, smtputf8))
        return f"kept in memory as message #{len(self.messages)}"


def transport_from_url(url: str, *, base_dir: str | os.PathLike[str] | None = None) -> Transport:
    """Build the transport ``url`` names; relative ``file://`` paths go under ``base_dir``
    (the current directory if None). Raises ValueError for a malformed or unknown URL;
    messages never repeat the password."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme in ("smtp", "smtps"):
        return _smtp_from_url(scheme, parts)
    if scheme == "file":
        _options(parts, ())
        raw = unquote(parts.netloc + parts.path)
        if not raw:
            raise ValueError("file:// mail URL needs a directory: file:///abs or file://rel/dir")
        path = Path(raw)
        if not path.is_absolute():
            path = Path(os.path.abspath(Path(base_dir if base_dir is not None else ".") / path))
        return FileTransport(path)
    if scheme == "console":
        return ConsoleTransport()
    if scheme == "memory":
        return MemoryTransport()
    accepted = ", ".join(f"{name}://" for name in SCHEMES)
    got = f"{parts.scheme}://" if parts.scheme else "no scheme"
    raise ValueError(f"unsupported mail transport URL ({got}); accepted schemes: {accepted}")


def _options(parts: SplitResult, allowed: Sequence[str]) -> dict[str, str]:
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        accepted = ", ".join(allowed) or "none"
        raise ValueError(f"unknown mail URL option(s) {', '.join(unknown)}; accepted: {accepted}")
    return options


def _smtp_from_url(scheme: str, parts: SplitResult) -> SMTPTransport:
    options = _options(parts, ("tls", "timeout") if scheme == "smtp" else ("timeout",))
    if not parts.hostname:
        raise ValueError(f"{scheme}:// mail URL needs a host: {scheme}://host:port")
    if parts.path not in ("", "/"):
        raise ValueError(f"{scheme}:// mail URL takes no path, got {parts.path!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid port in mail URL: {exc}") from None
    if port == 0:
        raise ValueError("invalid port in mail URL: 0")
    tls = "implicit" if scheme == "smtps" else options.get("tls", "none").lower()
    if scheme == "smtp" and tls not in ("none", "starttls"):
        raise ValueError(f"tls= in an smtp:// URL must be starttls or none, not {tls!r}")
    try:
        timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
    except ValueError:
        timeout = -1.0
    if not timeout > 0 or timeout == float("inf"):
        raise ValueError("timeout= in a mail URL must be a positive number of seconds")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise ValueError("mail URL has a password but no user name")
    return SMTPTransport(
        parts.hostname, port, username=username, password=password, tls=tls, timeout=timeout
    )
