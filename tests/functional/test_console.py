"""The staff console on the real stack (SQLite and PostgreSQL, a running worker): sign in,
CSRF on every POST, roles enforced on the server, a send started, watched, paused, resumed and
cancelled from the console, every action in the audit log as the member."""

from __future__ import annotations

import csv
import io
import random
import re
import time
import uuid
from datetime import timedelta

import pyotp
import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import select

from service import daily
from service.extensions import db
from service.lists.browse import browse_readers, reader_filter
from service.models import Article, AuditEvent, Delivery, Send, StaffMember, Subscriber, utcnow
from service.staff import accounts
from tests.conftest import plain_app, scratch_postgres
from tests.support.readers import add_reader

PASSWORD = "correct horse battery staple"


def member(role: str, **fields) -> StaffMember:
    row = accounts.create_member(f"{role}-{uuid.uuid4().hex[:8]}@example.org", role, PASSWORD)
    for name, value in fields.items():
        setattr(row, name, value)
    db.session.commit()
    return row


def token(page: bytes) -> str:
    found = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1).decode()


def sign_in(client, email: str, password: str = PASSWORD):
    page = client.get("/admin/sign-in")
    return client.post(
        "/admin/sign-in",
        data={"email": email, "password": password, "csrf_token": token(page.data)},
    )


class FreshClient(FlaskClient):
    """A browser of its own: the test's pushed app context would otherwise carry one request's
    signed-in member and CSRF token (both cached on `g`) into the next client's requests."""

    def open(self, *args, **kwargs):
        for name in ("_login_user", "csrf_token"):
            g.pop(name, None)
        return super().open(*args, **kwargs)


@pytest.fixture
def console(app):
    app.config["RATELIMIT_ENABLED"] = False
    app.test_client_class = FreshClient
    yield app.test_client()
    app.test_client_class = None
    app.config["RATELIMIT_ENABLED"] = True


def test_a_stranger_is_sent_to_sign_in_and_the_api_stays_cookie_free(console, client):
    answer = console.get("/admin/")
    assert answer.status_code == 302 and answer.location.startswith("/admin/sign-in?next=/admin/")
    page = console.get("/admin/sign-in")
    [cookie] = [c for c in page.headers.getlist("Set-Cookie") if c.startswith("console=")]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie
    assert "Set-Cookie" not in client.get("/api/v1/").headers
    assert "Set-Cookie" not in client.get("/healthz").headers


def test_a_wrong_password_and_an_unknown_address_answer_alike(console):
    row = member("viewer")
    wrong = sign_in(console, row.email, "not the password at all")
    unknown = sign_in(console, "nobody-" + row.email, PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert (
        b"Wrong address or password." in wrong.data
        and b"Wrong address or password." in unknown.data
    )
    assert console.get("/admin/").status_code == 302


def test_a_post_without_the_csrf_token_is_refused(console):
    row = member("editor")
    assert sign_in(console, row.email).status_code == 302
    refused = console.post("/admin/sign-out", data={"csrf_token": "forged"})
    assert refused.status_code == 400
    assert console.get("/admin/").status_code == 200  # still signed in: nothing happened
    no_token = console.post("/admin/sign-in", data={"email": row.email, "password": PASSWORD})
    assert no_token.status_code == 400


def test_a_viewer_sees_no_pause_button_and_cannot_pause(console, newsletter):
    nl = newsletter(archived=False)
    add_reader(nl)
    send = Send(newsletter_id=nl.id, status="paused", total=1)
    db.session.add(send)
    db.session.commit()
    row = member("viewer")
    assert sign_in(console, row.email).status_code == 302
    page = console.get(f"/admin/sends/{send.id}")
    assert page.status_code == 200 and b">Resume<" not in page.data and b"Cancel" not in page.data
    refused = console.post(f"/admin/sends/{send.id}/resume", data={"csrf_token": token(page.data)})
    assert refused.status_code == 403
    db.session.expire_all()
    assert db.session.get(Send, send.id).status == "paused"


def test_an_editor_starts_pauses_resumes_and_cancels_a_send(console, newsletter, smtp):
    nl = newsletter(rate_limit_per_second=0.5)  # two seconds a message: still going while we act
    for _ in range(6):
        add_reader(nl)
    db.session.add(Article(url=f"https://news.example.org/{uuid.uuid4().hex}", title="Today"))
    db.session.commit()
    row = member("editor")
    assert sign_in(console, row.email).status_code == 302
    home = console.get("/admin/")
    assert nl.slug.encode() in home.data and b"Send now" in home.data
    started = console.post(
        f"/admin/newsletters/{nl.slug}/send-now", data={"csrf_token": token(home.data)}
    )
    assert started.status_code == 302
    send_id = int(started.location.rsplit("/", 1)[1])
    page = console.get(started.location)
    assert b'hx-trigger="every 2s"' in page.data or b"finished" in page.data
    for action in ("pause", "resume"):
        answer = console.post(
            f"/admin/sends/{send_id}/{action}", data={"csrf_token": token(page.data)}
        )
        assert answer.status_code == 302
    ask = console.get(f"/admin/sends/{send_id}/cancel")
    assert b"Yes, cancel this send" in ask.data
    console.post(f"/admin/sends/{send_id}/cancel", data={"csrf_token": token(ask.data)})
    db.session.expire_all()
    assert db.session.get(Send, send_id).status == "cancelled"
    actions = db.session.scalars(
        select(AuditEvent.event).where(AuditEvent.target == f"send:{send_id}", AuditEvent.via == "console",
                                       AuditEvent.actor == row.email)
    ).all()  # fmt: skip
    assert {"send.started", "send.paused", "send.resumed", "send.cancelled"} <= set(actions)


def test_the_second_factor_is_asked_for_and_a_code_is_accepted_once(console):
    secret = pyotp.random_base32()
    row = member("owner", totp_secret=secret)
    first = sign_in(console, row.email)
    assert first.status_code == 302 and first.location.endswith("/admin/sign-in/code")
    assert console.get("/admin/").status_code == 302  # halfway in is not in
    step = console.get("/admin/sign-in/code")
    code = pyotp.TOTP(secret).now()
    wrong = console.post("/admin/sign-in/code", data={"code": "000000" if code != "000000" else "111111",
                                                      "csrf_token": token(step.data)})  # fmt: skip
    assert wrong.status_code == 401
    right = console.post("/admin/sign-in/code", data={"code": code, "csrf_token": token(step.data)})
    assert right.status_code == 302 and console.get("/admin/").status_code == 200
    other = console.application.test_client()
    halfway = sign_in(other, row.email)
    assert halfway.status_code == 302, halfway.data
    step = other.get("/admin/sign-in/code")
    replay = other.post("/admin/sign-in/code", data={"code": code, "csrf_token": token(step.data)})
    assert replay.status_code == 401


def test_disabling_an_account_ends_its_sessions(console):
    row = member("editor")
    sign_in(console, row.email)
    assert console.get("/admin/").status_code == 200
    row.session_version += 1
    db.session.commit()
    assert console.get("/admin/").status_code == 302


def test_readers_are_found_by_address_prefix_and_opened_with_their_timeline(console, newsletter):
    nl = newsletter()
    prefix = f"find-{uuid.uuid4().hex[:6]}"
    found = add_reader(nl, email=f"{prefix}@gmail.com")
    add_reader(nl)
    row = member("viewer")
    sign_in(console, row.email)
    page = console.get(f"/admin/readers?email_prefix={prefix}")
    assert page.status_code == 200
    assert found.email.encode() in page.data and page.data.count(b"/admin/readers/") == 1
    bad = console.get("/admin/readers?created_after=yesterday")
    assert bad.status_code == 400 and b"RFC 3339" in bad.data
    one = console.get(f"/admin/readers/{found.id}")
    assert one.status_code == 200 and nl.slug.encode() in one.data
    assert b"Erase this reader" not in one.data  # a viewer may not
    assert (
        console.post(
            f"/admin/readers/{found.id}/erase", data={"csrf_token": token(one.data)}
        ).status_code
        == 403
    )


def test_an_editor_erases_a_reader_after_confirming(console, newsletter):
    nl = newsletter()
    reader = add_reader(nl)
    row = member("editor")
    sign_in(console, row.email)
    ask = console.get(f"/admin/readers/{reader.id}/erase")
    assert b"Yes, erase" in ask.data
    done = console.post(f"/admin/readers/{reader.id}/erase", data={"csrf_token": token(ask.data)})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Subscriber, reader.id) is None
    assert console.get(f"/admin/readers/{reader.id}").status_code == 404


def test_the_export_streams_every_reader_as_csv(console, newsletter):
    nl = newsletter()
    emails = {add_reader(nl).email for _ in range(3)}
    sign_in(console, member("viewer").email)
    answer = console.get(f"/admin/newsletters/{nl.slug}/export.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert {r["email"] for r in rows} == emails


def test_an_owner_makes_and_revokes_a_key_and_reads_the_audit_log(console, client):
    owner = member("owner")
    sign_in(console, owner.email)
    page = console.get("/admin/api-keys")
    name = f"crm {uuid.uuid4().hex[:6]}"
    made = console.post(
        "/admin/api-keys", data={"name": name, "scope": ["read"], "csrf_token": token(page.data)}
    )
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    key = re.search(rb'<code class="secret">([^<]+)</code>', made.data).group(1).decode()
    assert (
        client.get("/api/v1/newsletters", headers={"Authorization": f"Bearer {key}"}).status_code
        == 200
    )
    again = console.get("/admin/api-keys")
    assert key.encode() not in again.data and name.encode() in again.data
    console.post(f"/admin/api-keys/{name}/revoke", data={"csrf_token": token(again.data)})
    assert (
        client.get("/api/v1/newsletters", headers={"Authorization": f"Bearer {key}"}).status_code
        == 401
    )
    log = console.get("/admin/audit")
    assert (
        b"api_key.created" in log.data
        and b"api_key.revoked" in log.data
        and owner.email.encode() in log.data
    )


def test_an_editor_may_not_see_keys_or_the_audit_log(console):
    sign_in(console, member("editor").email)
    assert console.get("/admin/api-keys").status_code == 403
    assert console.get("/admin/audit").status_code == 403
    assert b"API keys" not in console.get("/admin/").data


def test_a_member_turns_on_two_step_sign_in_and_a_recovery_code_works_once(console, app):
    row = member("editor")
    sign_in(console, row.email)
    account = console.get("/admin/account")
    started = console.post("/admin/account/totp", data={"csrf_token": token(account.data)})
    assert b'src="data:image/svg+xml' in started.data
    secret = re.search(rb'<code class="secret">([A-Z2-7]+)</code>', started.data).group(1).decode()
    wrong = console.post(
        "/admin/account/totp/confirm", data={"code": "12345", "csrf_token": token(started.data)}
    )
    assert wrong.status_code == 400
    done = console.post("/admin/account/totp/confirm",
                        data={"code": pyotp.TOTP(secret).now(), "csrf_token": token(started.data)})  # fmt: skip
    codes = re.findall(rb"<li><code>([0-9a-f]{8}-[0-9a-f]{8})</code></li>", done.data)
    assert done.status_code == 200 and len(codes) == 10
    assert console.get("/admin/").status_code == 200  # this session goes on
    other = app.test_client()
    assert sign_in(other, row.email).location.endswith("/admin/sign-in/code")
    step = other.get("/admin/sign-in/code")
    used = other.post(
        "/admin/sign-in/code", data={"code": codes[0].decode(), "csrf_token": token(step.data)}
    )
    assert used.status_code == 302 and other.get("/admin/").status_code == 200
    third = app.test_client()
    sign_in(third, row.email)
    step = third.get("/admin/sign-in/code")
    again = third.post(
        "/admin/sign-in/code", data={"code": codes[0].decode(), "csrf_token": token(step.data)}
    )
    assert again.status_code == 401


def test_when_owners_require_two_step_sign_in_a_member_without_it_is_sent_to_turn_it_on(
    console, app
):
    sign_in(console, member("viewer").email)
    app.config["CONSOLE_REQUIRE_TOTP"] = True
    try:
        answer = console.get("/admin/readers")
        assert answer.status_code == 302 and answer.location.endswith("/admin/account")
        assert b"require two-step sign-in" in console.get("/admin/account").data
    finally:
        app.config["CONSOLE_REQUIRE_TOTP"] = False


def invite_link(smtp, address: str) -> str:
    [received] = smtp.wait_for_recipient(address, timeout=30)
    text = received.message.get_body(("plain",)).get_content()
    return re.search(r"http://\S+/admin/join/\S+", text).group(0)


def test_an_owner_invites_an_editor_who_joins_by_the_emailed_link_once(console, app, smtp):
    owner = member("owner")
    sign_in(console, owner.email)
    page = console.get("/admin/staff")
    address = f"new-{uuid.uuid4().hex[:6]}@newsroom.org.ua"  # mail reaches it
    sent = console.post(
        "/admin/staff/invite",
        data={"email": address, "role": "editor", "csrf_token": token(page.data)},
    )
    assert sent.status_code == 302
    link = invite_link(smtp, address)
    path = link.split("://", 1)[1].split("/", 1)[1]
    newcomer = app.test_client()
    form = newcomer.get("/" + path)
    assert form.status_code == 200 and b"editor" in form.data
    short = newcomer.post(
        "/" + path, data={"password": "short", "again": "short", "csrf_token": token(form.data)}
    )
    assert short.status_code == 400
    joined = newcomer.post(
        "/" + path, data={"password": PASSWORD, "again": PASSWORD, "csrf_token": token(form.data)}
    )
    assert joined.status_code == 302 and newcomer.get("/admin/").status_code == 200
    assert accounts.find_member(address).role == "editor"
    used = app.test_client().get("/" + path)
    assert used.status_code == 400 and b"used already" in used.data
    forged = app.test_client().get("/" + path[:-3] + "xyz")
    assert forged.status_code == 400 and b"not a valid invitation" in forged.data


def test_an_owner_changes_a_role_disables_an_account_and_is_never_left_without_an_owner(
    console, app
):
    owner = member("owner")
    editor = member("editor")
    sign_in(console, owner.email)
    theirs = app.test_client()
    sign_in(theirs, editor.email)
    page = console.get("/admin/staff")
    console.post(
        f"/admin/staff/{editor.id}", data={"role": "viewer", "csrf_token": token(page.data)}
    )
    db.session.expire_all()
    assert db.session.get(StaffMember, editor.id).role == "viewer"
    assert theirs.get("/admin/").status_code == 302  # the change ended their session
    console.post(
        f"/admin/staff/{editor.id}", data={"state": "disabled", "csrf_token": token(page.data)}
    )
    assert sign_in(app.test_client(), editor.email).status_code == 401
    for other in db.session.scalars(
        select(StaffMember).where(StaffMember.role == "owner", StaffMember.id != owner.id)
    ):
        other.disabled_at = other.created_at
    db.session.commit()
    last = console.post(
        f"/admin/staff/{owner.id}", data={"role": "viewer", "csrf_token": token(page.data)}
    )
    assert last.status_code == 422 and b"last active owner" in last.data


def test_failed_sign_ins_are_limited_per_account_and_ip_and_a_right_password_does_not_count(
    tmp_path, redis_server
):
    """Limits on, in Redis, on PostgreSQL: the production configuration."""
    with scratch_postgres() as url, plain_app(url, redis_server, tmp_path, RATELIMIT_ENABLED=True,
                                              CONSOLE_SIGN_IN_LIMIT="3/minute") as app:  # fmt: skip
        app.test_client_class = FreshClient
        ip = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
        browser = app.test_client()
        browser.environ_base["REMOTE_ADDR"] = ip
        row = member("editor")
        for _ in range(4):
            assert sign_in(browser, row.email).status_code == 302  # successes are free
            browser.post("/admin/sign-out", data={"csrf_token": token(browser.get("/admin/").data)})
        answers = [sign_in(browser, row.email, "wrong password!!").status_code for _ in range(3)]
        assert answers == [401, 401, 401]
        blocked = sign_in(browser, row.email)
        assert blocked.status_code == 429 and "Retry-After" in blocked.headers
        elsewhere = app.test_client()
        elsewhere.environ_base["REMOTE_ADDR"] = ip.replace("10.", "172.", 1)
        assert sign_in(elsewhere, row.email).status_code == 429  # the account is limited
        other = member("viewer")
        assert sign_in(browser, other.email).status_code == 429  # and so is the IP
        assert sign_in(elsewhere, other.email).status_code == 302


def test_a_send_report_shows_what_came_back_and_the_relays_answers(console, newsletter):
    nl = newsletter()
    readers = [add_reader(nl) for _ in range(3)]
    send = Send(newsletter_id=nl.id, status="sent", total=3, sent=2, failed=1, started_at=utcnow())
    db.session.add(send)
    db.session.flush()
    db.session.add_all([
        Delivery(send_id=send.id, subscriber_id=readers[0].id, status="sent"),
        Delivery(send_id=send.id, subscriber_id=readers[1].id, status="sent"),
        Delivery(send_id=send.id, subscriber_id=readers[2].id, status="failed",
                 response="550 5.1.1 <x>: Recipient address rejected"),
    ])  # fmt: skip
    db.session.commit()
    sign_in(console, member("viewer").email)
    page = console.get(f"/admin/sends/{send.id}").get_data(as_text=True)
    assert "What came back" in page and "Hard bounces" in page
    assert "550 5.1.1 &lt;x&gt;: Recipient address rejected" in page  # escaped, not markup


def test_the_dashboard_draws_each_newsletters_last_month_from_the_daily_figures(
    console, newsletter
):
    nl = newsletter(name="Growth Weekly")
    daily.record(nl.id, signups=4, confirmations=3, net=3)
    daily.record(nl.id, utcnow().date() - timedelta(days=1), unsubscribes=1, net=-1)
    db.session.commit()
    sign_in(console, member("viewer").email)
    page = console.get("/admin/").get_data(as_text=True)
    section = page[page.index('id="month-' + nl.slug) :]
    section = section[: section.index("</section>")]
    assert "Signups 4 · confirmations 3 · unsubscribes 1 · bounces 0" in section
    assert "net +2." in section
    assert "Confirmation rate: 75%." in section
    assert section.count('<rect class="down"') == 1 and "<title>" in section


def test_an_editor_imports_a_csv_by_upload_and_sees_the_bad_rows(console, newsletter):
    nl = newsletter()
    sign_in(console, member("editor").email)
    form = console.get("/admin/imports/new")
    assert form.status_code == 200 and nl.slug.encode() in form.data
    prefix = uuid.uuid4().hex[:8]
    csv_text = "email,name\n" + "".join(f"up-{prefix}-{n}@gmail.com,Reader {n}\n" for n in range(5))
    csv_text += "not an address,Nobody\n"
    posted = console.post(
        "/admin/imports",
        data={"csrf_token": token(form.data), "newsletter": nl.slug, "mode": "confirmed",
              "consent": "paper form", "file": (io.BytesIO(csv_text.encode()), "list.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert posted.status_code == 302, posted.data[:300]
    page_url = posted.location
    deadline = time.monotonic() + 60
    while b"done" not in (page := console.get(page_url)).data:
        assert b"failed" not in page.data and time.monotonic() < deadline, page.data[-800:]
        time.sleep(0.5)
    assert b"Rows not imported (1)" in page.data and b'<td class="num">7</td>' in page.data
    assert len(browse_readers(reader_filter({"email_prefix": f"up-{prefix}"}), 0, 50)) == 5


def test_an_upload_without_consent_for_confirmed_readers_is_refused_and_a_viewer_may_not_upload(
    console, newsletter
):
    nl = newsletter()
    sign_in(console, member("editor").email)
    form = console.get("/admin/imports/new")
    refused = console.post(
        "/admin/imports",
        data={"csrf_token": token(form.data), "newsletter": nl.slug, "mode": "confirmed",
              "file": (io.BytesIO(b"email\nx@gmail.com\n"), "list.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert refused.status_code == 422 and b"needs consent" in refused.data
    viewer = console.application.test_client()
    sign_in(viewer, member("viewer").email)
    assert viewer.get("/admin/imports/new").status_code == 403
