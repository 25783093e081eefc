"""Staff roles and what each may do, in the API's own scopes.

`owner` may do everything, staff and keys included (the `admin` scope); `editor` runs the
newsletters: newsletters, sends, articles and readers (`write` and `send`); `viewer` only
looks (`read`). The console asks `allows(role, scope)` before every action, and the service
functions it calls are the API's, so a role means the same as the key scope it maps to.
"""

from __future__ import annotations

from service.access.keys import GRANTS

ROLES = ("owner", "editor", "viewer")
SCOPES_OF_ROLE: dict[str, tuple[str, ...]] = {
    "owner": ("admin",),
    "editor": ("write", "send"),
    "viewer": ("read",),
}


def allows(role: str, scope: str) -> bool:
    """Whether a member with `role` may do what `scope` guards (an unknown role: nothing)."""
    return any(scope in GRANTS[held] for held in SCOPES_OF_ROLE.get(role, ()))
