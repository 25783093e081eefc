"""Second factors: time-based one-time codes (RFC 6238, pyotp) from an authenticator app.

A member enrols by scanning a QR code drawn on the server (no script, no third party) and
typing the first code; from then on signing in asks for a code. A code is accepted once: the
time step it belongs to is kept, so a code seen over a shoulder cannot be replayed. The secret
is stored sealed (`service.sealed`); one that no configured key opens is
`SecondFactorUnreadable` (a recovery code still works, and an owner resets it), and the
recovery codes are kept only as hashes.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import pyotp
import segno
from sqlalchemy import select

from service import audit, sealed
from service.extensions import db
from service.models import StaffMember
from service.staff import accounts

ISSUER = "newsletter-service"
RECOVERY_CODES = 10
DRIFT_STEPS = 1  # accept the code of the step before and after (clock drift, typing time)
RESET = audit.event("staff.totp_reset", "an operator turned a member's two-step sign-in off")
TURNED_OFF = audit.event("staff.totp_turned_off", "a member turned their own two-step sign-in off")


class SecondFactorUnreadable(Exception):
    """The member's TOTP secret opens with no key in `SECRET_KEY` (a key was removed): their
    codes cannot be checked until an owner resets the second factor."""


def new_secret() -> str:
    """A fresh base32 secret for enrolment."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg_data_uri(uri: str) -> str:
    """The QR code of `uri` as an SVG data URI (the page policy allows `data:` images)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def _matching_step(secret: str, code: str) -> int | None:
    code = code.strip()
    totp = pyotp.TOTP(secret)
    now = totp.timecode(datetime.now(UTC))
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def code_is_right(secret: str, code: str) -> bool:
    """Whether `code` is current for `secret` (enrolment: nothing recorded yet)."""
    return _matching_step(secret, code) is not None


def accept(member: StaffMember, code: str) -> bool:
    """Accept `code` for `member` once: a current TOTP code of a later step than the last one
    used, or an unused recovery code."""
    if not member.totp_secret:
        return False
    if not code.strip().isdigit():
        return use_recovery_code(member, code)
    try:
        secret = sealed.unseal(sealed.TOTP, member.totp_secret)
    except sealed.Unreadable as exc:
        raise SecondFactorUnreadable(f"staff {member.id}: {exc}") from None
    step = _matching_step(secret, code)
    if step is None or step <= (member.totp_last_step or -1):
        return False
    member.totp_last_step = step
    db.session.commit()
    return True


def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


def enrol(member: StaffMember, secret: str) -> list[str]:
    """Turn on the second factor for `member` with `secret` (checked by the caller); return
    the recovery codes, shown once (only their hashes are kept). Other sessions end."""
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    member.totp_secret = sealed.seal(sealed.TOTP, secret)
    member.totp_last_step = None
    member.recovery_codes = [_digest(code) for code in codes]
    member.session_version += 1
    db.session.commit()
    return codes


def use_recovery_code(member: StaffMember, code: str) -> bool:
    """Accept one of `member`'s unused recovery codes, once (it is struck off)."""
    digest = _digest(code)
    left = list(member.recovery_codes or [])
    for kept in left:
        if secrets.compare_digest(kept, digest):
            left.remove(kept)
            member.recovery_codes = left
            db.session.commit()
            return True
    return False


def reset(member: StaffMember, *, actor: audit.Actor) -> None:
    """Turn `member`'s second factor off (their secret unreadable, their phone lost): the
    secret and recovery codes go, their sessions end, and they enrol again. Audited."""
    _clear(member)
    audit.record(RESET, actor, target=f"staff:{member.email}")
    db.session.commit()


def turn_off(member: StaffMember, password: str, code: str) -> str | None:
    """Turn `member`'s own second factor off once they show their password and then a current
    code or an unused recovery code: None when done (their other sessions end; audited),
    else what was not right, `"password"` or `"code"` (nothing changed, no code used up by a
    wrong password). A secret no key opens raises SecondFactorUnreadable (a recovery code
    still works)."""
    if not accounts.password_is_right(member, password):
        return "password"
    if not accept(member, code):
        return "code"
    _clear(member)
    audit.record(TURNED_OFF, audit.Actor("console", member.email), target=f"staff:{member.email}")
    db.session.commit()
    return None


def _clear(member: StaffMember) -> None:
    member.totp_secret = None
    member.totp_last_step = None
    member.recovery_codes = []
    member.session_version += 1


def reseal_secrets(*, write: bool) -> sealed.Tally:
    """Seal every enrolled member's TOTP secret under the newest key (`write` false: only
    count); the labels of those no key opens."""
    rows = db.session.scalars(select(StaffMember).where(StaffMember.totp_secret.is_not(None)))
    tally = sealed.reseal_rows(
        rows, sealed.TOTP, "totp_secret", lambda m: f"staff {m.email}", write=write
    )
    if write:
        db.session.commit()
    return tally
