"""No log line carries a reader's link token or an API key.

The Procfile's `web` line runs as in production (`APP_ENV=production`, limits on in Redis,
access log on, gunicorn's error log at debug level, which names every request's path) beside
the stack's real worker and SMTP server. A reader walks every flow that puts a secret in a
URL: signup, the confirmation link (with the Referer a browser sends), one-click unsubscribe,
the unsubscribe page and its undo, the manage link and the preference page it leads to, a
broken link, and an API call with a key in the query string. Then every line of the web's
and the worker's logs is read: no token and no key, and the lines about those requests are
there (redacted), so the scan cannot pass by reading nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import requests

from service.access.keys import create_api_key
from service.leaving.links import unsubscribe_token
from tests.conftest import ROOT, unique_email, wait_for_signups
from tests.functional.test_rate_limits_across_processes import _procfile_command
from tests.support.processes import free_port, stop_process, wait_for_http
from tests.support.readers import add_reader

TOKEN_IN_URL = re.compile(r"/(?:confirm|unsubscribe|preferences)/([A-Za-z0-9_.-]+)")


def _web(stack, tmp_path, port: int) -> tuple[subprocess.Popen, object]:
    env = {
        **stack.env,
        "APP_ENV": "production",
        "RATELIMIT_ENABLED": "true",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "DEBUG",
        "GUNICORN_CMD_ARGS": "--log-level debug",
        "WEB_CONCURRENCY": "2",
        "ALLOWED_ORIGINS": "https://news.example.org",
    }
    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log:
        web = subprocess.Popen(
            ["sh", "-c", f"exec {_procfile_command('web')}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return web, log_path


def _tokens_in(text: str) -> set[str]:
    return {t for t in TOKEN_IN_URL.findall(text) if len(t) > 20}


def _mail_to(smtp, address: str, marker: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for message in smtp.messages:
            text = message.message.get_body(("plain",)).get_content()
            if address in message.recipients and marker in text:
                return text
        time.sleep(0.1)
    raise AssertionError(f"no mail to {address} with {marker}")


def _secret_of(html: str) -> str:
    return re.search(r'name="secret" value="([^"]+)"', html).group(1)


def test_a_full_flow_leaves_no_token_and_no_key_in_any_log_line(
    stack, app, smtp, newsletter, tmp_path
):
    daily, weekly = newsletter(), newsletter()
    port = free_port()
    web, log_path = _web(stack, tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    secrets: set[str] = set()
    http = requests.Session()
    try:
        wait_for_http(f"{base}/healthz", web)
        email = unique_email()
        signup = http.post(
            f"{base}/api/v1/subscriptions", json={"email": email, "newsletters": daily.slug}
        )
        assert signup.status_code == 202, signup.text
        wait_for_signups()
        [confirm_path] = set(re.findall(r"/confirm/\S+", _mail_to(smtp, email, "/confirm/")))
        secrets |= _tokens_in(confirm_path)
        page = http.get(base + confirm_path)
        assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
        done = http.post(base + confirm_path, headers={"Referer": base + confirm_path})
        assert done.status_code == 200
        assert http.post(base + confirm_path + "x").status_code == 400  # a broken link

        reader = add_reader(daily)  # a confirmed reader with a digest's unsubscribe link
        one_click = f"/unsubscribe/{unsubscribe_token(reader.id, daily.id)}"
        secrets |= _tokens_in(one_click)
        page = http.get(base + one_click)
        secrets |= _tokens_in(page.text)  # the preference link on the page
        body = {"List-Unsubscribe": "One-Click"}
        left = http.post(base + one_click, data=body, headers={"Referer": base + one_click})
        assert left.status_code == 200
        undo = {"secret": _secret_of(left.text), "scope": "one"}
        assert http.post(f"{base}{one_click}/undo", data=undo).status_code == 200

        assert http.post(f"{base}/manage", data={"email": email}).status_code == 200
        mail = _mail_to(smtp, email, "/preferences/")
        [preferences_path] = set(re.findall(r"/preferences/\S+", mail))
        secrets |= _tokens_in(preferences_path)
        page = http.get(base + preferences_path)
        assert page.headers["Cache-Control"] == "no-store"
        chosen = {"newsletters": [daily.slug, weekly.slug], "secret": _secret_of(page.text)}
        saved = http.post(
            base + preferences_path, data=chosen, headers={"Referer": base + preferences_path}
        )
        assert saved.status_code == 200

        key = create_api_key("log-scan")
        secrets.add(key)
        query = f"{base}/api/v1/subscribers?email={email}&api_key={key}"
        assert http.get(query).status_code == 401
        assert http.get(query, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        time.sleep(1)  # the worker's lines about the last jobs
    finally:
        stop_process(web)
    assert len(secrets) >= 5, secrets
    log = log_path.read_text(errors="replace")
    worker_log = Path(stack.env["INSTANCE_PATH"]) / "worker.log"
    lines = log.splitlines() + worker_log.read_text(errors="replace").splitlines()
    leaks = [(secret[:12], line) for line in lines for secret in secrets if secret in line]
    assert leaks == [], leaks[:5]
    # The lines are there, redacted: the access log (JSON, one object a line) and gunicorn's
    # debug lines.
    access = [e for e in map(json.loads, log.splitlines()) if e["logger"] == "gunicorn.access"]
    assert any(
        (e["method"], e["path"], e["status"]) == ("POST", "/confirm/[redacted]", 200)
        for e in access
    ), log[-3000:]
    referers = [e["referer"] for e in access if e.get("referer")]
    assert any(re.fullmatch(r"https?://\S*/confirm/\[redacted\]", r) for r in referers)
    assert "/preferences/[redacted]" in log and "/unsubscribe/[redacted]/undo" in log
    assert "api_key=[redacted]" in log and f"email={email}" not in log
