"""Roles mean what the API's key scopes mean: an owner everything, an editor runs the
newsletters, a viewer only looks."""

from __future__ import annotations

import pytest

from service.access.keys import SCOPES
from service.staff.roles import ROLES, allows


@pytest.mark.parametrize(
    ("role", "granted"),
    [
        ("owner", {"read", "write", "send", "admin"}),
        ("editor", {"read", "write", "send"}),
        ("viewer", {"read"}),
        ("intruder", set()),
    ],
)
def test_each_role_is_allowed_exactly_its_scopes(role, granted):
    assert {scope for scope in SCOPES if allows(role, scope)} == granted


def test_the_roles_are_the_three_the_console_offers():
    assert ROLES == ("owner", "editor", "viewer")
