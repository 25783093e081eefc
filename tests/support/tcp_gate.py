"""A loopback TCP gate for fault drills: a proxy in front of a server that can be shut.

    gate = TCPGate("127.0.0.1", 5432).start()     # clients connect to gate.port instead
    gate.shut()    # every connection through it is cut and new ones are refused
    gate.open()    # the same port accepts and forwards again

Shut, nothing listens on the port (connections are refused at once, as from a stopped
server) and every open connection is closed on both sides (clients see the server close
it). The server behind it never notices more than clients going away, so a drill can take
the shared PostgreSQL "away" without touching it. Threads, stopped by `stop()`.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.support.processes import free_port


class TCPGate:
    """Forwards 127.0.0.1:`port` to `target`; `shut` and `open` it; see the module docstring."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()

    def start(self) -> TCPGate:
        self.open()
        return self

    def open(self) -> None:
        """Listen (again) on the gate's port and forward every connection."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def shut(self) -> None:
        """Refuse new connections and cut every open one."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            for sock in pair:
                _close(sock)

    def stop(self) -> None:
        self.shut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # shut
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            pair = (client, server)
            with self._lock:
                if self._listener is not listener:
                    _close(client)
                    _close(server)
                    return
                self._pairs.add(pair)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink, pair), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, pair) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._pairs.discard(pair)
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
