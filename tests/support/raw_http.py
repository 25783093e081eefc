"""HTTP/1.1 written by hand on a socket: bodies framed as a client frames them (chunked, in
pieces), and any `Host`, which `urllib` and the Flask test client will not send."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any


@dataclass
class Answer:
    """A response: status, headers (names in lower case) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def chunked(body: bytes, pieces: int) -> bytes:
    """`body` in `pieces` chunks of `Transfer-Encoding: chunked`, with the last-chunk."""
    size = max(1, -(-len(body) // pieces))
    out = bytearray()
    for start in range(0, len(body), size):
        piece = body[start : start + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


def exchange(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> Answer:
    """Send one request to 127.0.0.1:`port` exactly as given, read the answer to the end
    (the request should say `Connection: close`)."""
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    top, _, rest = bytes(received).partition(b"\r\n\r\n")
    status_line, *lines = top.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "chunked" in fields.get("transfer-encoding", ""):
        rest = _dechunk(rest)
    return Answer(int(status_line.split()[1]), fields, rest)
