"""Inviting staff: an owner names an address and a role; the person is mailed a signed link
that expires (`STAFF_INVITE_HOURS`, 72 by default) and sets their own password with it.

The link carries the address and role, signed with the app's key (itsdangerous), so nothing
secret is stored; it works once, since the account it makes then exists. The mail goes out
as an outbox job, committed with the audit row of the invitation.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from service import audit, outbox
from service.extensions import db
from service.mail import send_transactional
from service.models import StaffMember
from service.staff import accounts
from service.staff.roles import ROLES
from service.task_names import TaskName

SALT = "staff-invite"
STAFF_INVITED = audit.event("staff.invited", "an owner invited a staff member")


class InviteInvalid(ValueError):
    """A link that is forged, expired or used; the message says which and what to do."""


def _signer() -> URLSafeTimedSerializer:
    config = current_app.config
    return URLSafeTimedSerializer(config["SECRET_KEYS"], salt=SALT)


def max_age() -> int:
    """How long an invitation link works, in seconds."""
    return int(float(current_app.config.get("STAFF_INVITE_HOURS") or 72) * 3600)


def invite(email: str, role: str, *, actor: audit.Actor) -> str:
    """Queue the invitation mail to `email` for `role`; the address as stored."""
    if role not in ROLES:
        raise accounts.AccountInvalid(f"the role must be one of {', '.join(ROLES)}")
    address = accounts.staff_address(email)
    if address is None:
        raise accounts.AccountInvalid(f"{email[:100]!r} is not an email address")
    if accounts.find_member(address) is not None:
        raise accounts.AccountTaken(f"{address} has an account already")
    audit.record(STAFF_INVITED, actor, target=f"staff:{address}", role=role)
    outbox.enqueue(TaskName.SEND_STAFF_INVITE, {"email": address, "role": role, "by": actor.name})
    db.session.commit()
    return address


def invite_url(address: str, role: str) -> str:
    """The signed link that lets `address` make a `role` account."""
    token = _signer().dumps({"email": address, "role": role})
    return f"{current_app.config['PUBLIC_URL']}/admin/join/{token}"


def send_invite(payload: dict[str, Any]) -> None:
    """Mail the invitation a job asks for (a worker)."""
    to = SimpleNamespace(email_ascii=payload["email"], locale="en", smtputf8=False)
    send_transactional("staff-invite", to, invite_url=invite_url(payload["email"], payload["role"]),
                       role=payload["role"], invited_by=payload.get("by", ""),
                       hours=max_age() // 3600)  # fmt: skip


def read_invite(token: str) -> dict[str, str]:
    """The address and role a link names, if it is genuine, current and unused."""
    try:
        found = _signer().loads(token, max_age=max_age())
    except SignatureExpired:
        raise InviteInvalid("This invitation has expired: ask an owner for a new one.") from None
    except BadSignature:
        raise InviteInvalid(
            "This link is not a valid invitation: check it was copied whole."
        ) from None
    if accounts.find_member(found["email"]) is not None:
        raise InviteInvalid("This invitation was used already: sign in instead.")
    return found


def accept(token: str, password: str) -> StaffMember:
    """Make the account a link invites, with the password its owner chose."""
    found = read_invite(token)
    actor = audit.Actor("console", found["email"])
    return accounts.create_member(found["email"], found["role"], password, actor=actor)
