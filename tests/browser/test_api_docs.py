"""The interactive docs in Chromium (issue 22): `/docs` draws Swagger UI from our own origin
with no console error and no Content-Security-Policy violation; an integrator authorizes with a
real API key, opens `GET /api/v1/newsletters`, presses "Try it out" and "Execute", and sees the
200 answer with the demo newsletters — the request carried the key as a Bearer header. The same
`read` key on an `admin` operation (`GET /api/v1/api-keys`) shows the documented 403
`insufficient_scope` naming the scope, on the page, and nothing else fails.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from tests.browser.conftest import ROOT, VENV_BIN, AppServer

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000  # every wait on the page is bounded
# Seen by the page itself, whatever the console prints (injected before any script of ours).
RECORD_CSP = (
    "window.__cspViolations = [];"
    "document.addEventListener('securitypolicyviolation', e =>"
    " window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def new_key(server: AppServer, scope: str) -> str:
    """A real API key, made as an operator would: `newsletter api-keys create`."""
    name = f"docs-{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [str(VENV_BIN / "newsletter"), "api-keys", "create", name, "--scope", scope],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def watch(page: Page, server: AppServer) -> tuple[list[str], list[str], list[Request]]:
    """Console errors and uncaught exceptions, requests to other origins, API requests."""
    errors: list[str] = []
    foreign: list[str] = []
    api: list[Request] = []
    page.on(
        "console", lambda m: errors.append(f"{m.text} {m.location}") if m.type == "error" else None
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def seen(request: Request) -> None:
        if request.url.startswith(f"{server.url}/api/"):
            api.append(request)
        elif not request.url.startswith((server.url + "/", "data:")):
            foreign.append(request.url)

    page.on("request", seen)
    return errors, foreign, api


def try_it(page: Page, path: str) -> Locator:
    """Open the `GET path` operation, press "Try it out" and "Execute"; its answer row."""
    operation = page.locator(f".opblock-get:has(.opblock-summary-path[data-path='{path}'])")
    expect(operation).to_have_count(1)
    operation.locator(".opblock-summary").first.click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    return operation.locator(".live-responses-table tr.response")


def test_docs_try_it_out_with_a_key(page: Page, app_server: AppServer, artifacts):
    key = new_key(app_server, "read")
    page.set_default_timeout(TIMEOUT_MS)
    page.add_init_script(RECORD_CSP)
    errors, foreign, api = watch(page, app_server)

    response = page.goto(f"{app_server.url}/docs", wait_until="load")
    assert response is not None and response.status == 200
    title = page.locator(".swagger-ui .info .title")
    expect(title).to_contain_text("newsletter", timeout=TIMEOUT_MS)

    page.locator(".scheme-container button.authorize").click()
    dialog = page.locator(".dialog-ux .modal-ux")
    dialog.locator("input").fill(key)
    dialog.locator(".auth-btn-wrapper button.authorize").click()
    expect(dialog.get_by_text("Authorized")).to_be_visible()
    dialog.locator("button.btn-done").click()
    expect(dialog).to_have_count(0)

    answer = try_it(page, "/api/v1/newsletters")
    expect(answer.locator(".response-col_status")).to_have_text("200", timeout=TIMEOUT_MS)
    expect(answer.locator(".response-col_description")).to_contain_text('"slug": "daily"')
    answer.screenshot(path=str(artifacts / "docs-try-it-out.png"))

    calls = [r for r in api if r.url.startswith(f"{app_server.url}/api/v1/newsletters")]
    assert calls, "Execute sent no request"
    assert calls[-1].headers.get("authorization") == f"Bearer {key}"
    assert key not in calls[-1].url  # the key travels in the header, never in the URL

    # A `read` key on an `admin` operation: the documented 403, shown on the page.
    refused = try_it(page, "/api/v1/api-keys")
    expect(refused.locator(".response-col_status")).to_have_text("403", timeout=TIMEOUT_MS)
    description = refused.locator(".response-col_description")
    expect(description).to_contain_text('"code": "insufficient_scope"')
    expect(description).to_contain_text('"scope": "admin"')
    calls = [r for r in api if r.url.startswith(f"{app_server.url}/api/v1/api-keys")]
    assert calls and calls[-1].headers.get("authorization") == f"Bearer {key}"

    assert page.evaluate("window.__cspViolations") == []
    # That 403 is the only thing that failed (Chromium also logs it as a failed resource).
    keys_url = f"{app_server.url}/api/v1/api-keys"
    assert [e for e in errors if keys_url not in e] == [], errors
    assert any(e.startswith(f"403 {keys_url}") for e in errors), errors
    assert foreign == []
