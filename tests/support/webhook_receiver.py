"""A webhook receiver on 127.0.0.1 in a thread, answering from a script.

    with WebhookReceiver([500, 200, (429, {"Retry-After": "3"}), 410]) as receiver:
        ...receiver.url...
        receiver.received  # (headers, body bytes) of every request, in order

Each request takes the next answer of the script; after the last, the last one repeats.
"""

from __future__ import annotations

import http.server
import threading
import time


class WebhookReceiver:
    """An HTTP server that records every POST and answers as scripted."""

    def __init__(self, script: list) -> None:
        self.script = [a if isinstance(a, tuple) else (a, {}) for a in script]
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((dict(self.headers.items()), body))
                index = min(len(receiver.received), len(receiver.script)) - 1
                status, headers = receiver.script[index]
                answer = f"answer {len(receiver.received)}: {status}".encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/newsletter"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def wait_for(self, count: int, timeout: float = 30.0, tick=None) -> None:
        """Wait until `count` requests arrived, calling `tick()` (a sweep) meanwhile."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} arrived"
            if tick is not None:
                tick()
            time.sleep(0.1)
