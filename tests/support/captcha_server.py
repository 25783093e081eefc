"""A stand-in for the captcha providers' siteverify endpoints, on 127.0.0.1 in a thread.

    with CaptchaServer() as server:   # CAPTCHA_VERIFY_URL=server.url("turnstile")
        ...
        server.calls  # every verification request received, as dicts of form fields

It answers like the real providers do for their documented test keys:

- Turnstile (`/turnstile`): secret `1x0000000000000000000000000000000AA` always passes,
  `2x0000000000000000000000000000000AA` always fails; an empty response is
  `missing-input-response`.
- hCaptcha (`/hcaptcha`): secret `0x0000000000000000000000000000000000000000` passes only with
  the test response `10000000-aaaa-bbbb-cccc-000000000001`.

Any other path answers 500, for "the provider is in trouble".
"""

from __future__ import annotations

import http.server
import json
import threading
from urllib.parse import parse_qs

TURNSTILE_PASS = "1x0000000000000000000000000000000AA"
TURNSTILE_FAIL = "2x0000000000000000000000000000000AA"
TURNSTILE_SITE_KEY = "1x00000000000000000000AA"
TURNSTILE_TOKEN = "XXXX.DUMMY.TOKEN.XXXX"
HCAPTCHA_SECRET = "0x0000000000000000000000000000000000000000"
HCAPTCHA_SITE_KEY = "10000000-ffff-ffff-ffff-000000000001"
HCAPTCHA_TOKEN = "10000000-aaaa-bbbb-cccc-000000000001"


def _turnstile(fields: dict[str, str]) -> dict:
    if not fields.get("response"):
        return {"success": False, "error-codes": ["missing-input-response"]}
    if fields.get("secret") == TURNSTILE_PASS:
        return {"success": True, "error-codes": [], "hostname": "example.com"}
    if fields.get("secret") == TURNSTILE_FAIL:
        return {"success": False, "error-codes": ["invalid-input-response"]}
    return {"success": False, "error-codes": ["invalid-input-secret"]}


def _hcaptcha(fields: dict[str, str]) -> dict:
    if fields.get("secret") != HCAPTCHA_SECRET:
        return {"success": False, "error-codes": ["invalid-input-secret"]}
    if fields.get("response") != HCAPTCHA_TOKEN:
        return {"success": False, "error-codes": ["invalid-input-response"]}
    return {"success": True}


ANSWERS = {"/turnstile": _turnstile, "/hcaptcha": _hcaptcha}


class CaptchaServer:
    """The fake siteverify server; `calls` lists the form fields of every request."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []
        calls = self.calls

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                fields = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                calls.append(fields)
                answer = ANSWERS.get(self.path)
                body = json.dumps(answer(fields) if answer else {"error": "down"}).encode()
                self.send_response(200 if answer else 500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, provider: str) -> str:
        """The siteverify URL that answers like `provider` (`turnstile`, `hcaptcha`)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/{provider}"

    def __enter__(self) -> CaptchaServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
