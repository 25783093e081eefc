"""Staff accounts: created with a role, signed in by password (argon2), disabled at once.

Passwords are hashed with argon2id (argon2-cffi's defaults, rehashed on sign-in when those
move). Signing in with an unknown address costs the same hash check as a wrong password, so
the answer time does not tell which addresses have accounts.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from service import audit
from service.extensions import db
from service.models import StaffMember, utcnow
from service.staff.roles import ROLES

PASSWORD_MIN = 12
PASSWORD_MAX = 1000  # argon2 takes any length; this bounds the work one request can ask for
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("a password nobody has")
STAFF_CREATED = audit.event("staff.created", "an owner added a staff member")
STAFF_SIGNED_IN = audit.event("staff.signed_in", "a staff member signed in to the console")


class AccountInvalid(ValueError):
    """An address, role or password that cannot make an account (the message says why)."""


class AccountTaken(ValueError):
    """An account with this address exists already."""


def check_password(password: str) -> None:
    """Refuse a password too short or too long to be one (AccountInvalid says which)."""
    if len(password) < PASSWORD_MIN:
        raise AccountInvalid(f"the password needs at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise AccountInvalid(f"the password may have at most {PASSWORD_MAX} characters")


def create_member(
    email: str, role: str, password: str, *, actor: audit.Actor | None = None
) -> StaffMember:
    """Add a staff member with `role` and `password` (hashed), in the audit log."""
    if role not in ROLES:
        raise AccountInvalid(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
    address = staff_address(email)
    if address is None:
        raise AccountInvalid(f"{email!r} is not an email address")
    check_password(password)
    if find_member(address) is not None:
        raise AccountTaken(f"{address} has an account already")
    member = StaffMember(email=address, role=role, password_hash=_hasher.hash(password))
    db.session.add(member)
    db.session.flush()
    if actor is not None:
        audit.record(STAFF_CREATED, actor, target=f"staff:{address}", role=role)
    db.session.commit()
    return member


def staff_address(email: str) -> str | None:
    """The stored form of a staff address (lower case, IDNA domain), or None if it is none.

    Looser than a reader's: staff may sit on an internal or special-use domain.
    """
    if not isinstance(email, str) or len(email) > 254:
        return None
    try:
        found = validate_email(
            email.strip(), check_deliverability=False, globally_deliverable=False
        )
    except EmailNotValidError:
        return None
    return found.ascii_email.lower() if found.ascii_email else found.normalized.lower()


def find_member(email: str) -> StaffMember | None:
    """The account for `email` (any spelling of the same address), or None."""
    address = staff_address(email)
    if address is None:
        return None
    return db.session.scalar(select(StaffMember).where(StaffMember.email == address))


def authenticate(email: str, password: str) -> StaffMember | None:
    """The active member whose address and password these are, or None (the same work either
    way). A hash made with older parameters is replaced on the way."""
    member = find_member(email)
    password = password[: PASSWORD_MAX + 1]
    try:
        _hasher.verify(member.password_hash if member else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if member is None or member.disabled_at is not None:
        return None
    if _hasher.check_needs_rehash(member.password_hash):
        member.password_hash = _hasher.hash(password)
    member.last_sign_in_at = utcnow()
    audit.record(
        STAFF_SIGNED_IN, audit.Actor("console", member.email), target=f"staff:{member.email}"
    )
    db.session.commit()
    return member


def password_is_right(member: StaffMember, password: str) -> bool:
    """Whether `password` is `member`'s (a member confirming who they are before a change to
    their own sign-in; not a sign-in: nothing is recorded)."""
    try:
        return _hasher.verify(member.password_hash, password[: PASSWORD_MAX + 1])
    except (VerificationError, InvalidHashError):
        return False


def count_members() -> int:
    """How many accounts exist (the banner tells the first user how to make one)."""
    return db.session.scalar(select(func.count()).select_from(StaffMember)) or 0


def list_members() -> list[StaffMember]:
    """Every account, by address."""
    return list(db.session.scalars(select(StaffMember).order_by(StaffMember.email)))


STAFF_CHANGED = audit.event("staff.changed", "an owner changed a member's role or disabled them")


def change_member(member_id: int, *, role: str | None = None, disabled: bool | None = None,
                  actor: audit.Actor) -> StaffMember:  # fmt: skip
    """Give a member another role or disable (or re-enable) them; a change ends their
    sessions. The last active owner cannot be demoted or disabled (someone must hold keys)."""
    member = db.session.get(StaffMember, member_id)
    if member is None:
        raise AccountInvalid(f"no staff member {member_id}")
    if role is not None and role not in ROLES:
        raise AccountInvalid(f"the role must be one of {', '.join(ROLES)}")
    losing_owner = member.role == "owner" and (
        (role is not None and role != "owner") or disabled is True
    )
    if losing_owner and _active_owners() <= 1:
        raise AccountInvalid("this is the last active owner: make another owner first")
    if role is not None:
        member.role = role
    if disabled is not None:
        member.disabled_at = utcnow() if disabled else None
    member.session_version += 1
    audit.record(STAFF_CHANGED, actor, target=f"staff:{member.email}", role=member.role,
                 disabled=member.disabled_at is not None)  # fmt: skip
    db.session.commit()
    return member


def _active_owners() -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(StaffMember)
            .where(StaffMember.role == "owner", StaffMember.disabled_at.is_(None))
        )
        or 0
    )
