"""Owners manage the staff: who has an account, with which role; invitations by email, those
pending listed and withdrawn; a role changed, an account disabled or a member's second factor
reset at once. The invited person joins through the signed link (`/admin/join/<token>`) and
chooses their own password."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from service import audit
from service.console import bp
from service.console.auth import Member, action_form, requires
from service.console.forms import JoinForm
from service.console.pages import render
from service.console.previews import unreachable
from service.extensions import db
from service.models import StaffMember
from service.staff import accounts, invites, totp
from service.staff.roles import ROLES


def _actor() -> audit.Actor:
    return audit.Actor("console", current_user.email)


def _staff_page(problem: str | None = None, status: int = 200, invite_problem: str | None = None,
                invited: dict[str, str] | None = None):  # fmt: skip
    members = accounts.list_members()
    owners = [m for m in members if m.role == "owner" and m.disabled_at is None]
    return render("console/staff.html", status=status, members=members, roles=ROLES,
                  last_owner_id=owners[0].id if len(owners) == 1 else None,
                  problem=problem, invite_problem=invite_problem,
                  invited=invited or {"email": "", "role": "editor"}, pending=invites.pending(),
                  invite_hours=invites.max_age() // 3600, form=action_form())  # fmt: skip


@bp.get("/staff")
@requires("admin")
def staff():
    """Every account, and a form to invite someone."""
    return _staff_page()


@bp.post("/staff/invite")
@requires("admin")
def invite():
    """Mail an invitation to an address for a role."""
    typed = {"email": request.form.get("email", "")[:254], "role": request.form.get("role", "")}
    try:
        address = invites.invite(typed["email"], typed["role"], actor=_actor())
    except invites.AddressUnreachable as exc:
        problem = unreachable(typed["email"].strip(), exc.invalid)
        return _staff_page(status=422, invite_problem=problem, invited=typed)
    except (accounts.AccountInvalid, accounts.AccountTaken) as exc:
        return _staff_page(status=422, invite_problem=str(exc), invited=typed)
    flash(_("Invitation sent to %(address)s.", address=address))
    return redirect(url_for("console.staff"))


@bp.post("/staff/invitations/<int:invite_id>/withdraw")
@requires("admin")
def withdraw_invite(invite_id: int):
    """Withdraw a pending invitation: its link stops working (audited)."""
    try:
        address = invites.withdraw(invite_id, actor=_actor())
    except invites.InviteInvalid:
        flash(_("That invitation is no longer pending: it was used, withdrawn or has expired."),
              "error")  # fmt: skip
    else:
        flash(_("The invitation to %(address)s is withdrawn: its link no longer works.",
                address=address))  # fmt: skip
    return redirect(url_for("console.staff"))


def _member_or_404(member_id: int) -> StaffMember:
    member = db.session.get(StaffMember, member_id)
    if member is None:
        abort(404)
    return member


@bp.get("/staff/<int:member_id>/reset-totp")
@requires("admin")
def confirm_reset_totp(member_id: int):
    """Ask before turning a member's two-step sign-in off (as `newsletter staff reset-totp`)."""
    member = _member_or_404(member_id)
    if not member.totp_secret:
        flash(_("%(address)s has no second factor: nothing to reset.", address=member.email))
        return redirect(url_for("console.staff"))
    return render("console/confirm_reset_totp.html", member=member, form=action_form())


@bp.post("/staff/<int:member_id>/reset-totp")
@requires("admin")
def reset_totp(member_id: int):
    """Turn a member's two-step sign-in off (a lost phone, a secret no key opens): their
    sessions end; they sign in with their password and enrol again. Audited."""
    member = _member_or_404(member_id)
    if member.totp_secret:
        totp.reset(member, actor=_actor())
    if member_id == current_user.row.id:
        return redirect(url_for("console.sign_in"))
    flash(_("Two-step sign-in of %(address)s is off; they turn it on again from their account.",
            address=member.email))  # fmt: skip
    return redirect(url_for("console.staff"))


@bp.post("/staff/<int:member_id>")
@requires("admin")
def change(member_id: int):
    """Change a member's role, or disable or re-enable their account."""
    state = request.form.get("state")
    try:
        accounts.change_member(
            member_id,
            role=request.form.get("role") or None,
            disabled={"disabled": True, "active": False}.get(state or ""),
            actor=_actor(),
        )
    except accounts.AccountInvalid as exc:
        return _staff_page(problem=str(exc), status=422)
    if member_id == current_user.row.id:
        return redirect(url_for("console.sign_in"))
    return redirect(url_for("console.staff"))


@bp.route("/join/<token>", methods=["GET", "POST"])
def join(token: str):
    """An invited person chooses their password and is signed in."""
    try:
        found = invites.read_invite(token)
    except invites.InviteWithdrawn:
        text = _("An owner withdrew this invitation: ask them for a new one.")
        return render("console/message.html", status=400, title=_("Invitation"), text=text)
    except invites.InviteInvalid as exc:
        return render("console/message.html", status=400, title=_("Invitation"), text=str(exc))
    form = JoinForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render("console/join.html", status=status, form=form, invite=found)
    try:
        member = invites.accept(token, form.password.data)
    except (accounts.AccountInvalid, accounts.AccountTaken, invites.InviteInvalid) as exc:
        form.password.errors.append(str(exc))
        return render("console/join.html", status=400, form=form, invite=found)
    login_user(Member(member))
    return redirect(url_for("console.dashboard"))
