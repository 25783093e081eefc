"""A slow-client attack on a server of our own, bounded in count and time, on loopback only.

Half the clients send a request's line and then its headers a byte at a time; the other half
send whole headers announcing a JSON body and then the body a byte at a time. Each sends its
next byte every `interval` seconds and never finishes. A connection the server closes (or
answers) is opened again, so `count` connections press on the server until `duration` ends.
One thread drives them all with a selector.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

HEADERS = (
    b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"User-Agent: slow-client\r\nAccept: */*\r\n" + b"X-Padding: a\r\n" * 200
)
BODY_HEADERS = (
    b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
)
BODY = b'{"email": "' + b"a" * 3980 + b'"}'


@dataclass
class _Connection:
    sock: socket.socket
    payload: bytes
    opened: float
    sent: int = 0
    answer: bytes = b""


@dataclass
class SlowClients:
    """`count` trickling connections to 127.0.0.1:`port` for `duration` seconds."""

    port: int
    count: int
    interval: float = 1.0
    duration: float = 12.0
    lifetimes: list[float] = field(default_factory=list)  # of connections the server ended
    answers: list[bytes] = field(default_factory=list)  # status lines the server sent
    opened: int = 0
    refused: int = 0  # connections the server did not take
    _thread: threading.Thread | None = None

    def start(self) -> SlowClients:
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)
        self._thread.start()
        return self

    def join(self) -> None:
        assert self._thread is not None
        self._thread.join(self.duration + 10)

    def _open(self, selector: selectors.BaseSelector, index: int) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        sock.setblocking(False)
        if index % 2:
            payload, sent = BODY_HEADERS + BODY, len(BODY_HEADERS)
            sock.send(BODY_HEADERS)  # a few hundred bytes: the kernel takes them at once
        else:
            payload, sent = HEADERS, 0
        conn = _Connection(sock, payload, time.monotonic(), sent)
        selector.register(sock, selectors.EVENT_READ, conn)
        self.opened += 1

    def _close(self, selector: selectors.BaseSelector, conn: _Connection) -> None:
        selector.unregister(conn.sock)
        conn.sock.close()

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        end = time.monotonic() + self.duration
        try:
            for index in range(self.count):
                self._open(selector, index)
            next_byte = time.monotonic() + self.interval
            while (now := time.monotonic()) < end:
                for key, _ in selector.select(timeout=max(0.0, min(next_byte, end) - now)):
                    self._read(selector, key.data)
                if time.monotonic() >= next_byte:
                    next_byte += self.interval
                    for key in list(selector.get_map().values()):
                        self._trickle(selector, key.data)
                missing = self.count - len(selector.get_map())
                try:
                    for index in range(missing):
                        self._open(selector, index)
                except OSError:  # the server is gone (or stopping): try again on the next turn
                    self.refused += 1
        finally:
            for key in list(selector.get_map().values()):
                self._close(selector, key.data)
            selector.close()

    def _read(self, selector: selectors.BaseSelector, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(4096)
        except OSError:
            data = b""
        if data:
            conn.answer += data
            if b"\r\n" not in conn.answer:
                return
        self._ended(selector, conn)

    def _trickle(self, selector: selectors.BaseSelector, conn: _Connection) -> None:
        if conn.sent >= len(conn.payload):
            return
        try:
            conn.sock.send(conn.payload[conn.sent : conn.sent + 1])
            conn.sent += 1
        except OSError:
            self._ended(selector, conn)

    def _ended(self, selector: selectors.BaseSelector, conn: _Connection) -> None:
        """The server closed or answered this connection: note how long it lasted."""
        self.lifetimes.append(time.monotonic() - conn.opened)
        if conn.answer:
            self.answers.append(conn.answer.split(b"\r\n", 1)[0])
        self._close(selector, conn)
