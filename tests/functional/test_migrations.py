"""Alembic: one linear chain of revisions, and 0004 and 0007 upgrade (and back) on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from service.extensions import db
from tests.conftest import ROOT, unmigrated_app

MIGRATIONS = str(ROOT / "migrations")


def test_revisions_form_one_linear_chain():
    scripts = ScriptDirectory(MIGRATIONS)
    assert scripts.get_heads() == ["0007"]
    chain = [revision.revision for revision in scripts.walk_revisions()]
    assert chain == ["0007", "0006", "0005", "0004", "0003", "0002", "0001"]
    assert all(not scripts.get_revision(r).is_branch_point for r in chain)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0004_adds_allowed_origins_to_existing_newsletters(backend, tmp_path, redis_server):
    with unmigrated_app(backend, tmp_path, redis_server):
        upgrade(directory=MIGRATIONS, revision="0003")
        db.session.execute(
            text(
                "INSERT INTO newsletters (slug, name, description, timezone, "
                "min_new_articles, is_public, filters, created_at, updated_at) "
                "VALUES ('old', 'Old', '', 'UTC', 1, true, '{}', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
        upgrade(directory=MIGRATIONS, revision="0004")
        columns = {c["name"] for c in inspect(db.engine).get_columns("newsletters")}
        assert "allowed_origins" in columns
        from service.models import Newsletter

        # Only this column: the model has columns later revisions add.
        old = db.select(Newsletter.allowed_origins).where(Newsletter.slug == "old")
        assert db.session.scalar(old) == []
        db.session.execute(
            db.update(Newsletter)
            .where(Newsletter.slug == "old")
            .values(allowed_origins=["https://partner.example.com"])
        )
        db.session.commit()
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision="0003")
        columns = {c["name"] for c in inspect(db.engine).get_columns("newsletters")}
        assert "allowed_origins" not in columns
        upgrade(directory=MIGRATIONS, revision="heads")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0007_gives_existing_newsletters_empty_translations(backend, tmp_path, redis_server):
    with unmigrated_app(backend, tmp_path, redis_server):
        upgrade(directory=MIGRATIONS, revision="0006")
        db.session.execute(
            text(
                "INSERT INTO newsletters (slug, name, description, timezone, "
                "min_new_articles, is_public, filters, created_at, updated_at) "
                "VALUES ('old', 'Old', '', 'UTC', 1, true, '{}', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
        upgrade(directory=MIGRATIONS, revision="0007")
        from service.models import Newsletter

        old = db.session.scalar(db.select(Newsletter).where(Newsletter.slug == "old"))
        assert old.translations == {} and old.name_in("uk") == "Old"
        old.translations = {"uk": {"name": "Стара"}}
        db.session.commit()
        db.session.expire_all()
        assert old.name_in("uk") == "Стара"
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision="0006")
        columns = {c["name"] for c in inspect(db.engine).get_columns("newsletters")}
        assert "translations" not in columns
        upgrade(directory=MIGRATIONS, revision="heads")
