"""Secrets the service reads back are sealed at rest: what the database holds after a TOTP
enrolment, an endpoint's creation and its rotation (read with SQL), that signing in and
signing webhooks still work, across a `SECRET_KEY` rotation, and what happens when the key that
sealed them is gone: a clear answer, a recorded reason, never a 500 nor the secret in a log."""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select, text
from standardwebhooks import Webhook

from service.access.keys import create_api_key
from service.extensions import db
from service.leaving import changes
from service.models import AuditEvent, StaffMember
from service.sealed import PREFIX, TOTP, WEBHOOK, Sealer
from service.staff import accounts, totp
from tests.functional.test_console import PASSWORD, FreshClient, sign_in, token
from tests.functional.test_webhooks import _reader
from tests.support.webhook_receiver import WebhookReceiver

OLD = "the key everything was sealed under until today, long enough"
NEW = "the key that seals from now on, just as long and just as random"


@pytest.fixture
def app_with_keys(sqlite_app_with) -> Iterator:
    """Factory: `with app_with_keys(NEW, OLD) as app:` an app on one shared SQLite database with
    that `SECRET_KEY` list (newest first), its context pushed, jobs run in this process."""

    @contextmanager
    def make(*keys: str) -> Iterator[Flask]:
        app = sqlite_app_with(SECRET_KEYS=list(keys), JOBS_RUN_INLINE=True,
                              WEBHOOK_ALLOW_PRIVATE=True)  # fmt: skip
        app.test_client_class = FreshClient
        with app.app_context():
            yield app
            db.session.remove()

    return make


def raw(sql: str, **params: object):
    """One value, read with SQL past the models."""
    return db.session.execute(text(sql), params).scalar_one()


class Enrolled(NamedTuple):
    id: int
    email: str


def enrolled(codes: list[str] | None = None) -> tuple[Enrolled, str]:
    """A member with a second factor turned on by the service; their plain TOTP secret."""
    row = accounts.create_member(f"owner-{uuid.uuid4().hex[:8]}@example.org", "owner", PASSWORD)
    secret = pyotp.random_base32()
    given = totp.enrol(row, secret)
    if codes is not None:
        codes.extend(given)
    return Enrolled(row.id, row.email), secret


def second_step(client, email: str, code: str):
    """Sign in with the password, then answer the second step with `code`."""
    assert sign_in(client, email).location.endswith("/admin/sign-in/code")
    page = client.get("/admin/sign-in/code")
    return client.post("/admin/sign-in/code", data={"code": code, "csrf_token": token(page.data)})


def test_enrolling_in_the_console_stores_only_sealed_secrets_and_the_code_signs_in(
    app_with_keys,
):
    with app_with_keys(OLD) as app:
        row = accounts.create_member(f"ed-{uuid.uuid4().hex[:8]}@example.org", "editor", PASSWORD)
        browser = app.test_client()
        assert sign_in(browser, row.email).status_code == 302
        page = browser.get("/admin/account")
        started = browser.post("/admin/account/totp", data={"csrf_token": token(page.data)})
        secret = re.search(rb'<code class="secret">([A-Z2-7]+)</code>', started.data)[1].decode()
        done = browser.post("/admin/account/totp/confirm", data={
            "code": pyotp.TOTP(secret).now(), "csrf_token": token(started.data)})  # fmt: skip
        assert done.status_code == 200
        codes = re.findall(r"\b[0-9a-f]{8}-[0-9a-f]{8}\b", html.unescape(done.data.decode()))
        assert len(codes) == totp.RECOVERY_CODES

        stored = raw("SELECT totp_secret FROM staff WHERE id = :id", id=row.id)
        assert stored.startswith(PREFIX) and secret not in stored
        assert Sealer([OLD], TOTP).open(stored) == secret
        hashes = raw("SELECT recovery_codes FROM staff WHERE id = :id", id=row.id)
        assert not any(code in hashes or code.replace("-", "") in hashes for code in codes)

        again = second_step(app.test_client(), row.email, pyotp.TOTP(secret).now())
        assert again.status_code == 302 and again.location == "/admin/"


def test_after_a_key_rotation_everything_opens_and_a_reseal_moves_it_to_the_new_key(
    app_with_keys,
):
    with app_with_keys(OLD):
        row, secret = enrolled()
    with app_with_keys(NEW, OLD) as app:
        signed = second_step(app.test_client(), row.email, pyotp.TOTP(secret).now())
        assert signed.status_code == 302
        newcomer, _ = enrolled()  # a new write uses the new key
        fresh = raw("SELECT totp_secret FROM staff WHERE id = :id", id=newcomer.id)
        assert Sealer([NEW], TOTP).is_current(fresh)
        runner = app.test_cli_runner()
        checked = runner.invoke(args=["secrets", "check"])
        assert checked.exit_code == 0, checked.output
        assert "1 sealed under the newest key; 1 to reseal" in checked.output
        resealed = runner.invoke(args=["secrets", "reseal"])
        assert resealed.exit_code == 0 and "resealed 1" in resealed.output
        stored = raw("SELECT totp_secret FROM staff WHERE id = :id", id=row.id)
        assert Sealer([NEW], TOTP).open(stored) == secret
    with app_with_keys(NEW) as app:  # the old key may go now
        next_step = pyotp.TOTP(secret).at(time.time() + 30)  # this step's code was used
        signed = second_step(app.test_client(), row.email, next_step)
        assert signed.status_code == 302 and signed.location == "/admin/"


def test_with_the_key_gone_the_second_step_says_so_a_recovery_code_works_and_an_owner_resets(
    app_with_keys, service_log
):
    codes: list[str] = []
    with app_with_keys(OLD):
        row, secret = enrolled(codes)
    with app_with_keys(NEW) as app:
        browser = app.test_client()
        refused = second_step(browser, row.email, pyotp.TOTP(secret).now())
        assert refused.status_code == 409
        assert b"Your second factor cannot be checked" in refused.data
        assert b"ask an owner to reset it" in refused.data
        [line] = [r for r in service_log.records if "second factor cannot be" in r.getMessage()]
        assert f"staff {row.id}" in line.getMessage() and secret not in line.getMessage()
        page = browser.get("/admin/sign-in/code")
        recovered = browser.post("/admin/sign-in/code",
                                 data={"code": codes[0], "csrf_token": token(page.data)})  # fmt: skip
        assert recovered.status_code == 302 and browser.get("/admin/").status_code == 200

        runner = app.test_cli_runner()
        checked = runner.invoke(args=["secrets", "check"])
        assert checked.exit_code == 1 and f"cannot open: staff {row.email}" in checked.output
        assert secret not in checked.output
        reset = runner.invoke(args=["staff", "reset-totp", row.email])
        assert reset.exit_code == 0, reset.output
        db.session.expire_all()
        assert db.session.get(StaffMember, row.id).totp_secret is None
        audited = select(AuditEvent.via).where(AuditEvent.event == "staff.totp_reset",
                                               AuditEvent.target == f"staff:{row.email}")  # fmt: skip
        assert db.session.scalars(audited).all() == ["cli"]
        assert sign_in(app.test_client(), row.email).location == "/admin/"  # password only now
        assert runner.invoke(args=["secrets", "check"]).exit_code == 0


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key(f'sealed-{uuid.uuid4().hex[:8]}')}"}


def _stored_secrets(hook_id: int) -> tuple[str, str]:
    row = db.session.execute(
        text("SELECT secret, previous_secret FROM webhook_endpoints WHERE id = :id"),
        {"id": hook_id},
    ).one()
    return row.secret, row.previous_secret


def _announce() -> None:
    reader, newsletter = _reader()
    changes.unsubscribe(reader.id, newsletter.id, "one-click")


def test_webhook_secrets_are_sealed_when_created_and_rotated_and_still_verify(app_with_keys):
    with app_with_keys(OLD) as app, WebhookReceiver([200]) as receiver:
        client = app.test_client()
        events = {"events": ["subscriber.unsubscribed"]}
        hook = client.post("/api/v1/webhooks", json={"url": receiver.url, **events},
                           headers=_auth()).get_json()  # fmt: skip
        secret, previous = _stored_secrets(hook["id"])
        assert secret.startswith(PREFIX) and previous == ""
        assert "whsec_" not in secret and hook["secret"][6:] not in secret
        assert Sealer([OLD], WEBHOOK).open(secret) == hook["secret"]

        rotated = client.post(f"/api/v1/webhooks/{hook['id']}/rotate", headers=_auth())
        new = rotated.get_json()["secret"]
        secret, previous = _stored_secrets(hook["id"])
        assert secret.startswith(PREFIX) and previous.startswith(PREFIX)
        assert not {hook["secret"][6:], new[6:]} & {secret, previous}
        assert "whsec_" not in secret + previous
        _announce()
        [(headers, body)] = receiver.received
        assert Webhook(new).verify(body, headers) == Webhook(hook["secret"]).verify(body, headers)


def test_webhooks_sign_after_a_key_rotation_and_say_why_not_when_the_key_is_gone(
    app_with_keys, service_log
):
    with WebhookReceiver([200]) as receiver:
        with app_with_keys(OLD) as app:
            hook = app.test_client().post("/api/v1/webhooks", json={
                "url": receiver.url, "events": ["subscriber.unsubscribed"]}, headers=_auth(),
            ).get_json()  # fmt: skip
        with app_with_keys(NEW, OLD):
            _announce()
            assert Webhook(hook["secret"]).verify(receiver.received[0][1], receiver.received[0][0])
        with app_with_keys(NEW) as app:
            _announce()
            assert len(receiver.received) == 1  # nothing posted unsigned or wrongly signed
            client = app.test_client()
            attempts = client.get(f"/api/v1/webhooks/{hook['id']}/attempts", headers=_auth())
            assert attempts.status_code == 200
            last = attempts.get_json()["attempts"][0]
            assert last["outcome"] == "retrying" and last["status"] is None
            assert "opens with no key in SECRET_KEY" in last["error"]
            assert "webhooks rotate" in last["error"]
            logged = " ".join(r.getMessage() for r in service_log.records)
            assert f"webhook endpoint {hook['id']}: not sent" in logged
            assert hook["secret"] not in logged and hook["secret"][6:] not in logged

            rotated = client.post(f"/api/v1/webhooks/{hook['id']}/rotate", headers=_auth())
            assert rotated.status_code == 200  # the unreadable one moves aside, never opened
            _announce()
            assert len(receiver.received) == 2
            new = rotated.get_json()["secret"]
            assert Webhook(new).verify(receiver.received[1][1], receiver.received[1][0])
