"""A stand-in DNS server for tests: dnspython answering from a table, UDP on 127.0.0.1.

    with DNSServer({("sel._domainkey.news.example.org", "TXT"): ['"v=DKIM1; k=rsa; p=..."']}) as s:
        resolver(f"127.0.0.1:{s.port}")

Names not in the table get NXDOMAIN. `silent=True` answers nothing (an unreachable server).
"""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rrset


class DNSServer:
    """Answers A/TXT/MX questions from `table` ((name, type) -> list of rdata texts)."""

    def __init__(self, table: dict[tuple[str, str], list[str]], *, silent: bool = False):
        self.table = {
            (name.lower().rstrip("."), kind.upper()): rows for (name, kind), rows in table.items()
        }
        self.silent = silent
        self.questions: list[tuple[str, str]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> DNSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._sock.close()
        self._thread.join(timeout=5)

    @property
    def address(self) -> str:
        """`127.0.0.1:<port>`, as `DNS_RESOLVER` takes it."""
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self._sock.recvfrom(4096)
            except OSError:
                return  # closed
            query = dns.message.from_wire(data)
            question = query.question[0]
            name = question.name.to_text().lower().rstrip(".")
            kind = dns.rdatatype.to_text(question.rdtype)
            self.questions.append((name, kind))
            if self.silent:
                continue
            response = dns.message.make_response(query)
            rows = self.table.get((name, kind))
            if rows:
                response.answer.append(
                    dns.rrset.from_text_list(question.name, 60, "IN", kind, rows)
                )
            elif not any(known == name for known, _ in self.table):
                response.set_rcode(dns.rcode.NXDOMAIN)
            try:
                self._sock.sendto(response.to_wire(), peer)
            except OSError:
                return
