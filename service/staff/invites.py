"""Inviting staff: an owner names an address and a role; the person is mailed a signed link
that expires (`STAFF_INVITE_HOURS`, 72 by default) and sets their own password with it.

The link carries the address, the role and the id of the invitation's row in the audit log,
signed with the app's key (itsdangerous), so nothing secret is stored; it works once, since
the account it makes then exists. The mail goes out as an outbox job, committed with the audit
row of the invitation.

The audit log is also where pending invitations are read from (no table of their own): an
`staff.invited` row younger than the links' lifetime, for an address with no account yet and
no later `staff.invite_withdrawn` row. Withdrawing an address's invitation stops every link
mailed to it before (a link names its invitation, and a withdrawal outranks older ones); a
withdrawn invitation whose mail had not gone out yet is never mailed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from service import audit, outbox
from service.addresses import InvalidEmail, parse_address
from service.extensions import db
from service.mail import send_transactional
from service.models import AuditEvent, StaffMember, utcnow
from service.staff import accounts
from service.staff.roles import ROLES
from service.task_names import TaskName

SALT = "staff-invite"
STAFF_INVITED = audit.event("staff.invited", "an owner invited a staff member")
INVITE_WITHDRAWN = audit.event(
    "staff.invite_withdrawn", "an owner withdrew the pending invitations of an address"
)


class InviteInvalid(ValueError):
    """A link that is forged, expired or used; the message says which and what to do."""


class InviteWithdrawn(InviteInvalid):
    """A link to an invitation an owner withdrew."""


class AddressUnreachable(accounts.AccountInvalid):
    """An address the invitation could not reach by mail (`service.addresses`' policy, as
    every address the service mails); `invalid` says why."""

    def __init__(self, typed: str, invalid: InvalidEmail):
        super().__init__(f"{typed[:100]!r} is not an address mail can reach ({invalid})")
        self.invalid = invalid


@dataclass(frozen=True)
class PendingInvite:
    """An invitation not yet used, withdrawn or expired: its audit row's id, the address, the
    role, the owner who sent it and when its link stops working."""

    id: int
    email: str
    role: str
    invited_by: str
    expires_at: datetime


def _signer() -> URLSafeTimedSerializer:
    config = current_app.config
    return URLSafeTimedSerializer(config["SECRET_KEYS"], salt=SALT)


def max_age() -> int:
    """How long an invitation link works, in seconds."""
    return int(float(current_app.config.get("STAFF_INVITE_HOURS") or 72) * 3600)


def invite(email: str, role: str, *, actor: audit.Actor) -> str:
    """Queue the invitation mail to `email` for `role`; the address as stored. An address with
    an account is AccountTaken; one mail cannot reach (no dot in its domain, a reserved
    domain...) is AddressUnreachable."""
    if role not in ROLES:
        raise accounts.AccountInvalid(f"the role must be one of {', '.join(ROLES)}")
    address = accounts.staff_address(email)
    if address is None:
        raise accounts.AccountInvalid(f"{email[:100]!r} is not an email address")
    if accounts.find_member(address) is not None:
        raise accounts.AccountTaken(f"{address} has an account already")
    try:
        parse_address(address)  # the mail transport: no SMTPUTF8 for an invitation
    except InvalidEmail as exc:
        raise AddressUnreachable(email, exc) from None
    row = audit.record(STAFF_INVITED, actor, target=f"staff:{address}", role=role, email=address)
    db.session.flush()
    outbox.enqueue(TaskName.SEND_STAFF_INVITE,
                   {"email": address, "role": role, "by": actor.name, "invite": row.id})  # fmt: skip
    db.session.commit()
    return address


def invite_url(address: str, role: str, invite_id: int | None = None) -> str:
    """The signed link that lets `address` make a `role` account (`invite_id`: the invitation
    it belongs to, so that withdrawing that invitation stops it)."""
    claims: dict[str, Any] = {"email": address, "role": role}
    if invite_id is not None:
        claims["i"] = invite_id
    token = _signer().dumps(claims)
    return f"{current_app.config['PUBLIC_URL']}/admin/join/{token}"


def send_invite(payload: dict[str, Any]) -> None:
    """Mail the invitation a job asks for (a worker); one withdrawn meanwhile is not mailed."""
    invite_id = payload.get("invite")
    if _withdrawn(payload["email"], invite_id or 0):
        return
    to = SimpleNamespace(email_ascii=payload["email"], locale="en", smtputf8=False)
    send_transactional("staff-invite", to,
                       invite_url=invite_url(payload["email"], payload["role"], invite_id),
                       role=payload["role"], invited_by=payload.get("by", ""),
                       hours=max_age() // 3600)  # fmt: skip


def read_invite(token: str) -> dict[str, str]:
    """The address and role a link names, if it is genuine, current, not withdrawn and unused."""
    try:
        found = _signer().loads(token, max_age=max_age())
    except SignatureExpired:
        raise InviteInvalid("This invitation has expired: ask an owner for a new one.") from None
    except BadSignature:
        raise InviteInvalid(
            "This link is not a valid invitation: check it was copied whole."
        ) from None
    invite_id = found.get("i")
    if invite_id is not None:  # links mailed before invitations had ids name none
        row = db.session.get(AuditEvent, invite_id)
        if row is None or row.event != STAFF_INVITED or _email_of(row) != found["email"]:
            raise InviteInvalid("This link is not a valid invitation: check it was copied whole.")
        if row.at + timedelta(seconds=max_age()) < utcnow():
            raise InviteInvalid("This invitation has expired: ask an owner for a new one.")
    if accounts.find_member(found["email"]) is not None:
        raise InviteInvalid("This invitation was used already: sign in instead.")
    if _withdrawn(found["email"], invite_id or 0):
        raise InviteWithdrawn("This invitation was withdrawn: ask an owner for a new one.")
    return found


def accept(token: str, password: str) -> StaffMember:
    """Make the account a link invites, with the password its owner chose."""
    found = read_invite(token)
    actor = audit.Actor("console", found["email"])
    return accounts.create_member(found["email"], found["role"], password, actor=actor)


def _email_of(row: Any) -> str:
    """The address an invitation or withdrawal row is about (older rows: from the target)."""
    return (row.detail or {}).get("email") or row.target.removeprefix("staff:")


def _withdrawn(address: str, invite_id: int) -> bool:
    """Whether an owner withdrew `address`'s invitations after invitation `invite_id`."""
    rows = db.session.execute(
        select(AuditEvent.target, AuditEvent.detail).where(
            AuditEvent.event == INVITE_WITHDRAWN,
            AuditEvent.target == f"staff:{address}"[: audit.TARGET_MAX],
            AuditEvent.id > invite_id,
        )
    )
    return any(_email_of(row) == address for row in rows)


def pending() -> list[PendingInvite]:
    """The invitations whose links still work, newest first: one an address (its latest)."""
    since = utcnow() - timedelta(seconds=max_age())
    rows = db.session.execute(
        select(AuditEvent.id, AuditEvent.at, AuditEvent.event, AuditEvent.actor,
               AuditEvent.target, AuditEvent.detail)
        .where(AuditEvent.event.in_((STAFF_INVITED, INVITE_WITHDRAWN)), AuditEvent.at >= since)
        .order_by(AuditEvent.id)
    )  # fmt: skip
    latest: dict[str, Any] = {}
    for row in rows:  # in order: a withdrawal drops the invitations before it
        if row.event == INVITE_WITHDRAWN:
            latest.pop(_email_of(row), None)
        else:
            latest[_email_of(row)] = row
    members = set(
        db.session.scalars(select(StaffMember.email).where(StaffMember.email.in_(list(latest))))
    )
    age = timedelta(seconds=max_age())
    return [
        PendingInvite(row.id, email, (row.detail or {}).get("role", ""), row.actor, row.at + age)
        for email, row in sorted(latest.items(), key=lambda item: -item[1].id)
        if email not in members
    ]


def withdraw(invite_id: int, *, actor: audit.Actor) -> str:
    """Withdraw the pending invitation `invite_id` (and any older one to the same address):
    their links stop working. The address; InviteInvalid if it is not pending."""
    found = next((p for p in pending() if p.id == invite_id), None)
    if found is None:
        raise InviteInvalid(
            "No pending invitation has this number: it was used, withdrawn or has expired."
        )
    audit.record(INVITE_WITHDRAWN, actor, target=f"staff:{found.email}", email=found.email,
                 invite=invite_id)  # fmt: skip
    db.session.commit()
    return found.email
