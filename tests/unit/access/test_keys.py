"""API keys: scopes, one active key per name, revocation, and `last_used_at` written at most
once a minute per key."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from service.access import keys
from service.extensions import db
from service.models import ApiKey, utcnow


def test_a_key_is_kept_only_as_its_hash_and_defaults_to_admin(unit_app):
    key = keys.create_api_key("site")
    stored = db.session.scalar(select(ApiKey).where(ApiKey.name == "site"))
    assert key.startswith("nl_") and key not in {stored.key_hash, stored.prefix}
    assert keys.scopes_of(stored) == ["admin"]
    assert keys.find_api_key(key).id == stored.id
    assert key not in str(keys.describe(stored))


@pytest.mark.parametrize(
    ("held", "allowed"),
    [
        (["read"], {"read"}),
        (["write"], {"read", "write"}),
        (["send"], {"read", "send"}),
        (["write", "send"], {"read", "write", "send"}),
        (["admin"], {"read", "write", "send", "admin"}),
    ],
)
def test_what_each_scope_grants(unit_app, held, allowed):
    keys.create_api_key("k", held)
    api_key = db.session.scalar(select(ApiKey).where(ApiKey.name == "k"))
    assert {s for s in keys.SCOPES if keys.grants(api_key, s)} == allowed


@pytest.mark.parametrize(
    ("name", "scopes"),
    [("", None), ("a/b", None), (" padded", None), ("x" * 101, None), (7, None),
     ("ok", []), ("ok", ["root"]), ("ok", "admin"), ("ok", [None])],
)  # fmt: skip
def test_bad_names_and_scopes_are_refused(unit_app, name, scopes):
    with pytest.raises(keys.KeyInvalid):
        keys.create_api_key(name, scopes)
    assert db.session.scalar(select(ApiKey.id)) is None


def test_one_active_key_per_name_and_a_revoked_name_is_free_again(unit_app):
    first = keys.create_api_key("crm", ["read"])
    with pytest.raises(keys.KeyNameTaken):
        keys.create_api_key("crm")
    keys.revoke_api_key("crm")
    assert keys.find_api_key(first) is None
    with pytest.raises(keys.NoSuchKey):
        keys.revoke_api_key("crm")
    second = keys.create_api_key("crm", ["send"])
    assert [keys.describe(k)["scopes"] for k in keys.list_api_keys()] == [["send"]]
    assert keys.find_api_key(second) is not None


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(max_size=120))
def test_any_name_is_stored_as_given_or_refused(unit_app, name):
    """Untrusted text as a key's name: kept exactly, or a KeyInvalid, never anything else."""
    try:
        key = keys.create_api_key(name, ["read"])
    except (keys.KeyInvalid, keys.KeyNameTaken):
        db.session.rollback()
        return
    found = keys.find_api_key(key)
    assert found.name == name and len(name) <= keys.NAME_MAX
    keys.revoke_api_key(name)


def test_last_used_is_written_at_most_once_a_minute(unit_app):
    key = keys.create_api_key("busy", ["read"])
    client = unit_app.test_client()
    updates: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            updates.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        start = utcnow()
        with time_machine.travel(start, tick=False):
            for _ in range(5):
                client.get("/api/v1/newsletters", headers={"Authorization": f"Bearer {key}"})
        first = db.session.scalar(select(ApiKey.last_used_at).where(ApiKey.name == "busy"))
        assert len(updates) == 1 and abs(first - start) < timedelta(seconds=1)
        with time_machine.travel(start + timedelta(seconds=59), tick=False):
            client.get("/api/v1/newsletters", headers={"Authorization": f"Bearer {key}"})
        assert len(updates) == 1
        with time_machine.travel(start + timedelta(seconds=61), tick=False):
            client.get("/api/v1/newsletters", headers={"Authorization": f"Bearer {key}"})
        assert len(updates) == 2
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    db.session.expire_all()
    last = db.session.scalar(select(ApiKey.last_used_at).where(ApiKey.name == "busy"))
    assert last - start >= timedelta(seconds=61)
