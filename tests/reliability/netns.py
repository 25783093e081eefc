"""Another host for tests: a network namespace joined to this one by its own veth pair.

    with other_host() as host:            # made here, removed on exit (even on failure)
        port = host.forward(5432)          # host.address:port on this side -> 127.0.0.1:5432
        subprocess.Popen(host.command(["python", ...]))   # runs inside the namespace
        host.cut()                         # its link down: a network partition
        host.mend()                        # and back

Inside, the namespace has only its loopback and its end of the pair (10.231.X.Y/30, no
default route), so its traffic stays on that link and loopback. Services of this side
listen on 127.0.0.1 only and stay so: `forward` is the test's own small TCP forwarder (two
threads a connection) on this side's address of the pair. Needs root (CAP_NET_ADMIN); a
machine without it fails the test with the `ip` command's error, never skips it.
"""

from __future__ import annotations

import random
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field


def ip(*args: str, check: bool = True) -> str:
    """Run `ip ARGS`; a failure raises with the command and its error output."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if check and done.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")
    return done.stdout


class Forwarder:
    """Accept on (address, free port) and pipe each connection to 127.0.0.1:`target`."""

    def __init__(self, address: str, target: int) -> None:
        self.target = target
        self.bytes_in = 0  # bytes the other host sent through this forwarder
        self._listener = socket.create_server((address, 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name=f"fwd-{target}").start()

    def _accept(self) -> None:
        while True:
            try:
                peer, _ = self._listener.accept()
            except OSError:  # closed
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                peer.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [peer, upstream]
            for source, sink, inbound in ((peer, upstream, True), (upstream, peer, False)):
                threading.Thread(
                    target=self._pipe, args=(source, sink, inbound), daemon=True
                ).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, inbound: bool) -> None:
        try:
            while data := source.recv(65536):
                if inbound:
                    self.bytes_in += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._open:
                sock.close()


@dataclass
class OtherHost:
    """A network namespace `name`, reached at `peer` through the veth `link` (`address` here)."""

    name: str
    link: str
    address: str
    peer: str
    forwarders: dict[int, Forwarder] = field(default_factory=dict)

    def forward(self, port: int) -> Forwarder:
        """A forwarder on this side's address of the link to 127.0.0.1:`port`."""
        self.forwarders[port] = Forwarder(self.address, port)
        return self.forwarders[port]

    def command(self, argv: list[str] | tuple[str, ...] = ()) -> list[str]:
        """`argv` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def inside(self, *argv: str) -> str:
        """The output of a command run inside the namespace."""
        done = subprocess.run(self.command(argv), capture_output=True, text=True, timeout=10)
        return done.stdout + done.stderr

    def cut(self) -> None:
        """Set this side of the link down: the other host is cut off."""
        ip("link", "set", self.link, "down")

    def mend(self) -> None:
        """Set the link up again."""
        ip("link", "set", self.link, "up")


def _free_subnet() -> tuple[str, str]:
    """Two addresses of a 10.231.X.Y/30 that no interface here uses yet."""
    used = ip("-o", "-4", "addr", "show")
    while True:
        base = f"10.231.{random.randrange(256)}.{4 * random.randrange(64)}"
        prefix, last = base.rsplit(".", 1)
        if f" {prefix}.{int(last) + 1}/" not in used and f" {prefix}.{int(last) + 2}/" not in used:
            return f"{prefix}.{int(last) + 1}", f"{prefix}.{int(last) + 2}"


@contextmanager
def other_host() -> Iterator[OtherHost]:
    """Make a namespace and a veth pair with a /30 of their own; remove both on exit."""
    tag = uuid.uuid4().hex[:6]
    name, link, far = f"nl-{tag}", f"nlh{tag}", f"nln{tag}"
    address, peer = _free_subnet()
    host = OtherHost(name=name, link=link, address=address, peer=peer)
    try:
        ip("netns", "add", name)
        ip("link", "add", link, "type", "veth", "peer", "name", far, "netns", name)
        ip("addr", "add", f"{address}/30", "dev", link)
        ip("link", "set", link, "up")
        ip("-n", name, "addr", "add", f"{peer}/30", "dev", far)
        ip("-n", name, "link", "set", far, "up")
        ip("-n", name, "link", "set", "lo", "up")
        yield host
    finally:
        for forwarder in host.forwarders.values():
            forwarder.close()
        ip("link", "del", link, check=False)  # takes its peer with it
        ip("netns", "del", name, check=False)
