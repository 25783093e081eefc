"""What a publisher's owner met running the staff from the console rather than a shell: a
member turns their own two-step sign-in off (password and a code, never while the owners
require it); an owner resets a member's second factor after asking, as `newsletter staff
reset-totp` does; pending invitations are listed and withdrawn (the link stops working); an
invitation to an address no mail reaches is refused beside the field; `newsletter staff create`
says where to sign in, host included."""

from __future__ import annotations

import html
import uuid

import pyotp
from sqlalchemy import select

from service.extensions import db
from service.models import AuditEvent, StaffMember
from service.staff import totp
from tests.functional.test_console import PASSWORD, invite_link, member, sign_in, token


def text_of(answer) -> str:
    return html.unescape(answer.get_data(as_text=True))


def audited(event: str, target: str) -> list[tuple[str, str]]:
    db.session.expire_all()
    rows = db.session.execute(select(AuditEvent.via, AuditEvent.actor).where(
        AuditEvent.event == event, AuditEvent.target == target))  # fmt: skip
    return [tuple(row) for row in rows]


def enrolled(role: str) -> tuple[StaffMember, str, list[str]]:
    """A member with two-step sign-in on: the row, the secret and the recovery codes."""
    row = member(role)
    secret = totp.new_secret()
    codes = totp.enrol(row, secret)
    return row, secret, codes


def signed_in_with_code(client, row: StaffMember, code: str) -> None:
    assert sign_in(client, row.email).location.endswith("/admin/sign-in/code")
    step = client.get("/admin/sign-in/code")
    done = client.post("/admin/sign-in/code", data={"code": code, "csrf_token": token(step.data)})
    assert done.status_code == 302


def test_a_member_turns_two_step_sign_in_off_with_their_password_and_a_code(console, app):
    row, secret, codes = enrolled("editor")
    signed_in_with_code(console, row, codes[0])
    elsewhere = app.test_client()
    signed_in_with_code(elsewhere, row, codes[1])
    page = console.get("/admin/account")
    assert 'action="/admin/account/totp/off"' in text_of(page)
    forged = console.post("/admin/account/totp/off", data={"password": PASSWORD, "code": codes[2],
                                                           "csrf_token": "forged"})  # fmt: skip
    assert forged.status_code == 400
    wrong_password = console.post("/admin/account/totp/off", data={
        "password": "not the password at all", "code": codes[2], "csrf_token": token(page.data)})  # fmt: skip
    assert wrong_password.status_code == 401
    assert "That is not your password." in text_of(wrong_password)
    wrong_code = console.post("/admin/account/totp/off", data={
        "password": PASSWORD, "code": "deadbeef-deadbeef", "csrf_token": token(page.data)})  # fmt: skip
    assert wrong_code.status_code == 401 and "That code is not right" in text_of(wrong_code)
    db.session.expire_all()
    assert db.session.get(StaffMember, row.id).totp_secret is not None
    left = db.session.get(StaffMember, row.id).recovery_codes
    assert len(left) == 8  # two used to sign in; the wrong password used up none
    off = console.post("/admin/account/totp/off", data={
        "password": PASSWORD, "code": pyotp.TOTP(secret).now(), "csrf_token": token(page.data)})  # fmt: skip
    assert off.status_code == 302
    assert "Two-step sign-in is off" in text_of(console.get(off.location))
    db.session.expire_all()
    assert db.session.get(StaffMember, row.id).totp_secret is None
    assert console.get("/admin/").status_code == 200  # this session goes on
    assert elsewhere.get("/admin/").status_code == 302  # the others end
    assert audited("staff.totp_turned_off", f"staff:{row.email}") == [("console", row.email)]
    assert sign_in(app.test_client(), row.email).location == "/admin/"  # the password alone


def test_while_the_owners_require_two_step_sign_in_it_cannot_be_turned_off(console, app):
    row, _secret, codes = enrolled("viewer")
    signed_in_with_code(console, row, codes[0])
    app.config["CONSOLE_REQUIRE_TOTP"] = True
    try:
        page = console.get("/admin/account")
        text = text_of(page)
        assert "/admin/account/totp/off" not in text and "so it stays on" in text
        refused = console.post("/admin/account/totp/off", data={
            "password": PASSWORD, "code": codes[1], "csrf_token": token(page.data)})  # fmt: skip
        assert refused.status_code == 403
    finally:
        app.config["CONSOLE_REQUIRE_TOTP"] = False
    db.session.expire_all()
    assert db.session.get(StaffMember, row.id).totp_secret is not None
    assert audited("staff.totp_turned_off", f"staff:{row.email}") == []


def test_an_owner_resets_a_members_second_factor_after_asking_and_their_sessions_end(console, app):
    owner = member("owner")
    row, _secret, codes = enrolled("editor")
    theirs = app.test_client()
    signed_in_with_code(theirs, row, codes[0])
    assert theirs.get(f"/admin/staff/{row.id}/reset-totp").status_code == 403  # owners only
    sign_in(console, owner.email)
    listed = text_of(console.get("/admin/staff"))
    assert f'href="/admin/staff/{row.id}/reset-totp"' in listed
    asked = console.get(f"/admin/staff/{row.id}/reset-totp")
    assert asked.status_code == 200 and "Reset two-step sign-in?" in text_of(asked)
    assert row.email in text_of(asked)
    db.session.expire_all()
    assert db.session.get(StaffMember, row.id).totp_secret is not None  # asking changes nothing
    done = console.post(f"/admin/staff/{row.id}/reset-totp", data={"csrf_token": token(asked.data)})
    assert done.status_code == 302
    assert f"Two-step sign-in of {row.email} is off" in text_of(console.get(done.location))
    db.session.expire_all()
    reset = db.session.get(StaffMember, row.id)
    assert reset.totp_secret is None and reset.recovery_codes == []
    assert theirs.get("/admin/").status_code == 302
    assert audited("staff.totp_reset", f"staff:{row.email}") == [("console", owner.email)]
    assert sign_in(app.test_client(), row.email).location == "/admin/"


def test_pending_invitations_are_listed_and_a_withdrawn_ones_link_stops_working(console, app, smtp):
    owner = member("owner")
    sign_in(console, owner.email)
    page = console.get("/admin/staff")
    address = f"desk-{uuid.uuid4().hex[:6]}@newsroom-{uuid.uuid4().hex[:4]}.org.ua"
    sent = console.post("/admin/staff/invite", data={"email": address, "role": "viewer",
                                                     "csrf_token": token(page.data)})  # fmt: skip
    assert sent.status_code == 302
    link = invite_link(smtp, address)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    assert app.test_client().get(path).status_code == 200
    listed = text_of(console.get("/admin/staff"))
    pending = listed.split("Pending invitations", 1)[1].split("Invite someone", 1)[0]
    assert address in pending and "viewer" in pending and owner.email in pending
    [invite_id] = db.session.scalars(select(AuditEvent.id).where(
        AuditEvent.event == "staff.invited", AuditEvent.target == f"staff:{address}"))  # fmt: skip
    withdrawn = console.post(f"/admin/staff/invitations/{invite_id}/withdraw",
                             data={"csrf_token": token(page.data)})  # fmt: skip
    assert withdrawn.status_code == 302
    after = text_of(console.get("/admin/staff"))
    assert f"The invitation to {address} is withdrawn" in after
    assert address not in after.split("Pending invitations", 1)[1]
    refused = app.test_client().get(path)
    assert refused.status_code == 400 and "withdrew this invitation" in text_of(refused)
    assert audited("staff.invite_withdrawn", f"staff:{address}") == [("console", owner.email)]
    again = console.post(f"/admin/staff/invitations/{invite_id}/withdraw",
                         data={"csrf_token": token(page.data)})  # fmt: skip
    assert "no longer pending" in text_of(console.get(again.location))


def test_an_invitation_to_an_address_mail_cannot_reach_is_refused_beside_the_field(console):
    sign_in(console, member("owner").email)
    page = console.get("/admin/staff")
    for typed, says in (("editor@bad", "mail cannot reach editor@bad (dotless_domain)"),
                        ("editor@newsroom.example.org", "example.org is reserved")):  # fmt: skip
        refused = console.post("/admin/staff/invite", data={"email": typed, "role": "editor",
                                                            "csrf_token": token(page.data)})  # fmt: skip
        assert refused.status_code == 422
        text = text_of(refused)
        assert f'name="email" required maxlength="254" value="{typed}" aria-invalid="true"' in text
        error = text.split('id="invite-error">', 1)[1].split("</p>", 1)[0]
        assert says in error
        assert "<option selected>editor</option>" in text
        assert audited("staff.invited", f"staff:{typed}") == []  # nor mailed: one transaction


def test_staff_create_says_where_to_sign_in_with_the_host(app):
    email = f"first-{uuid.uuid4().hex[:6]}@example.org"
    result = app.test_cli_runner().invoke(args=["staff", "create", email, "--role", "owner"],
                                          input=PASSWORD + "\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"sign in at {app.config['PUBLIC_URL']}/admin/" in result.output
    db.session.remove()
