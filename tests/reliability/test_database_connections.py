"""The database server drops pooled connections (a restart, an idle timeout): nothing is lost.

Real PostgreSQL: the test kills the app's server-side sessions with pg_terminate_backend,
as a restart would, and the next signup must still be stored.
"""

from __future__ import annotations

import psycopg
import pytest

from service import database
from service.extensions import db
from service.models import Newsletter
from tests.conftest import POSTGRES_ADMIN_URL, stored, unique_email


@pytest.fixture
def pg_app(postgres_app):
    """The app and its database's name, with the newsletter readers sign up for."""
    db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
    db.session.commit()
    return postgres_app, postgres_app.config["SQLALCHEMY_DATABASE_URI"].rsplit("/", 1)[1]


def _kill_sessions(database_name: str) -> int:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        return admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database_name,),
        ).fetchone()[0]


def _sign_up(client) -> str:
    email = unique_email()
    response = client.post("/api/v1/subscriptions", json={"email": email, "newsletters": "daily"})
    assert response.status_code == 202, response.data
    return email


def test_a_signup_on_a_connection_the_server_dropped_is_retried(pg_app):
    app, name = pg_app
    client = app.test_client()
    assert stored(_sign_up(client))
    db.session.remove()
    assert _kill_sessions(name) >= 1  # every pooled connection of the app is now dead
    assert stored(_sign_up(client))


def test_an_idle_pooled_connection_is_checked_and_replaced(pg_app, monkeypatch):
    app, name = pg_app
    client = app.test_client()
    assert stored(_sign_up(client))
    db.session.remove()
    assert _kill_sessions(name) >= 1
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)  # every pooled connection is "idle"
    assert db.session.scalar(db.select(db.func.count()).select_from(Newsletter)) == 1
