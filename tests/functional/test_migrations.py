"""Alembic: one linear chain of revisions; 0004, 0005, 0007, 0011, 0013, 0014, 0015, 0027,
0028 and 0029 upgrade a database holding data (and back) on SQLite and PostgreSQL; 0012 makes
the webhook tables as the models have them."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from service.extensions import db
from service.models import SendStatus
from tests.conftest import ROOT, unmigrated_app

MIGRATIONS = str(ROOT / "migrations")


def old_newsletter_at(revision: str) -> None:
    """Migrate to `revision` and store newsletter 'old' as that revision would (its columns
    only, no ORM model: the model has the newest)."""
    upgrade(directory=MIGRATIONS, revision=revision)
    columns = "slug, name, description, timezone, min_new_articles, is_public, filters"
    values = "'old', 'Old', '', 'UTC', 1, true, '{}'"
    db.session.execute(
        text(
            f"INSERT INTO newsletters ({columns}, created_at, updated_at) "  # noqa: S608
            f"VALUES ({values}, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
    )
    db.session.commit()


def newsletter_columns() -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("newsletters")}


def downgrade_and_back(revision: str) -> set[str]:
    """Migrate down to `revision` and up again to the newest; the newsletter columns at
    `revision`."""
    db.session.remove()
    downgrade(directory=MIGRATIONS, revision=revision)
    columns = newsletter_columns()
    upgrade(directory=MIGRATIONS, revision="heads")
    return columns


def test_revisions_form_one_linear_chain():
    scripts = ScriptDirectory(MIGRATIONS)
    assert scripts.get_heads() == ["0030"]
    chain = [revision.revision for revision in scripts.walk_revisions()]
    assert chain == ["0030", "0029", "0028", "0027", "0026", "0025", "0023", "0021", "0020", "0019", "0018", "0017", "0016", "0015", "0014", "0013", "0012", "0011", "0009", "0008", "0007", "0006", "0005", "0004", "0003", "0002", "0001"]  # fmt: skip
    assert all(not scripts.get_revision(r).is_branch_point for r in chain)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0004_adds_allowed_origins_to_existing_newsletters(backend, tmp_path, redis_server):
    with unmigrated_app(backend, tmp_path, redis_server):
        old_newsletter_at("0003")
        upgrade(directory=MIGRATIONS, revision="0004")
        assert "allowed_origins" in newsletter_columns()
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
        assert "allowed_origins" not in downgrade_and_back("0003")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0007_gives_existing_newsletters_empty_translations(backend, tmp_path, redis_server):
    with unmigrated_app(backend, tmp_path, redis_server):
        old_newsletter_at("0006")
        upgrade(directory=MIGRATIONS, revision="0007")
        from service.models import Newsletter

        # Only this column: the model has columns later revisions add.
        old = db.select(Newsletter.translations).where(Newsletter.slug == "old")
        assert db.session.scalar(old) == {}
        assert Newsletter(name="Old", translations={}).name_in("uk") == "Old"
        db.session.execute(
            db.update(Newsletter)
            .where(Newsletter.slug == "old")
            .values(translations={"uk": {"name": "Стара"}})
        )
        db.session.commit()
        stored = Newsletter(name="Old", translations=db.session.scalar(old))
        assert stored.name_in("uk") == "Стара"
        assert "translations" not in downgrade_and_back("0006")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0011_keeps_existing_newsletters_sending_and_articles_the_sites(
    backend, tmp_path, redis_server
):
    with unmigrated_app(backend, tmp_path, redis_server):
        old_newsletter_at("0009")
        db.session.execute(
            text(
                "INSERT INTO articles (url, title, summary_html, summary_text, authors, tags, "
                "editors_pick, published_at, created_at, updated_at) VALUES ('https://e.org/a', "
                "'A', '', '', '[]', '[]', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
        upgrade(directory=MIGRATIONS, revision="0011")
        from service.models import Article, Newsletter

        row = db.session.execute(
            db.select(Newsletter.archived, Newsletter.late_articles, Newsletter.is_public)
        ).one()
        assert tuple(row) == (False, "include", True)
        assert db.session.scalar(db.select(Article.source_feed)) is None
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision="0009")
        assert {"archived", "late_articles"}.isdisjoint(newsletter_columns())
        assert "source_feed" not in {c["name"] for c in inspect(db.engine).get_columns("articles")}
        upgrade(directory=MIGRATIONS, revision="heads")
        assert {"archived", "late_articles"} <= newsletter_columns()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0005_cancels_duplicate_active_sends_then_refuses_new_ones(backend, tmp_path, redis_server):
    # Rows written in SQL: the model has columns of later revisions.
    insert = text(
        "INSERT INTO sends (newsletter_id, status, subject, body_text, "
        "body_html, content, total, sent, failed, skipped, "
        "checkpoint_subscriber_id, status_reason, scheduled_at, created_at) "
        "SELECT id, :status, '', '', '', '{}', 0, 0, 0, 0, 0, '', "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM newsletters"
    )
    with unmigrated_app(backend, tmp_path, redis_server):
        old_newsletter_at("0004")
        for status in ("sent", "sending", "sending", "paused", "scheduled"):
            db.session.execute(insert, {"status": status})
        db.session.commit()
        upgrade(directory=MIGRATIONS, revision="0005")
        rows = db.session.execute(
            text("SELECT id, status, status_reason FROM sends ORDER BY id")
        ).all()
        kept = rows[1].id
        reason = f"cancelled on upgrade: send {kept} was already in progress"
        assert [(r.status, r.status_reason) for r in rows] == [
            ("sent", ""),
            ("sending", ""),
            ("cancelled", reason),
            ("cancelled", reason),
            ("cancelled", reason),
        ]
        with pytest.raises(IntegrityError):
            db.session.execute(insert, {"status": SendStatus.SCHEDULED.value})
            db.session.commit()
        db.session.rollback()
        downgrade_and_back("0004")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0012_adds_the_webhook_tables_as_the_models_have_them(backend, tmp_path, redis_server):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from service.models import Base

    with unmigrated_app(backend, tmp_path, redis_server):
        upgrade(directory=MIGRATIONS, revision="heads")
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        webhook_tables = {"webhook_endpoints", "webhook_attempts"}
        assert [d for d in differences if "webhook_" in repr(d)] == []
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision="0011")
        assert not webhook_tables & set(inspect(db.engine).get_table_names())
        upgrade(directory=MIGRATIONS, revision="heads")
        assert webhook_tables <= set(inspect(db.engine).get_table_names())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0013_keeps_old_keys_admin_and_gives_each_active_name_one_key(
    backend, tmp_path, redis_server
):
    with unmigrated_app(backend, tmp_path, redis_server):
        upgrade(directory=MIGRATIONS, revision="0012")
        for n, (name, revoked) in enumerate(
            [("ops", False), ("ops", False), ("ops", True), ("site", False)]
        ):
            db.session.execute(
                text(
                    "INSERT INTO api_keys (name, prefix, key_hash, created_at, revoked_at) "
                    "VALUES (:name, 'nl_x', :hash, CURRENT_TIMESTAMP, "
                    + ("CURRENT_TIMESTAMP" if revoked else "NULL")
                    + ")"
                ),
                {"name": name, "hash": f"{n:064d}"},
            )
        db.session.commit()
        upgrade(directory=MIGRATIONS, revision="0013")
        rows = db.session.execute(
            text("SELECT id, name, scopes, revoked_at IS NULL FROM api_keys ORDER BY id")
        ).all()
        first = rows[0].id
        assert [tuple(r[1:]) for r in rows] == [
            (f"ops-{first}", "admin", True),  # the older active one gives up the name
            ("ops", "admin", True),
            ("ops", "admin", False),
            ("site", "admin", True),
        ]
        with pytest.raises(IntegrityError):
            db.session.execute(
                text(
                    "INSERT INTO api_keys (name, prefix, key_hash, scopes, created_at) "
                    "VALUES ('site', 'nl_y', 'y', 'read', CURRENT_TIMESTAMP)"
                )
            )
        db.session.rollback()
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision="0012")
        columns = {c["name"] for c in inspect(db.engine).get_columns("api_keys")}
        assert "scopes" not in columns
        upgrade(directory=MIGRATIONS, revision="heads")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0014_adds_the_audit_log_and_takes_it_away(backend, tmp_path, redis_server):
    with unmigrated_app(backend, tmp_path, redis_server):
        upgrade(directory=MIGRATIONS, revision="0014")
        from service import audit

        audit.record("newsletter.created", audit.Actor("cli", "root"), "newsletter:x", a=1)
        db.session.commit()
        row = db.session.execute(text("SELECT event, via, actor, target FROM audit_events")).one()
        assert tuple(row) == ("newsletter.created", "cli", "root", "newsletter:x")
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision="0013")
        assert "audit_events" not in inspect(db.engine).get_table_names()
        upgrade(directory=MIGRATIONS, revision="heads")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0015_indexes_the_subscriber_list_filters(backend, tmp_path, redis_server):
    with unmigrated_app(backend, tmp_path, redis_server):
        upgrade(directory=MIGRATIONS, revision="0015")

        def indexes() -> set[str]:
            return {i["name"] for i in inspect(db.engine).get_indexes("subscribers")}

        expected = {"ix_subscribers_created_at"}
        if backend == "postgresql":
            expected.add("ix_subscribers_email_key_prefix")
        assert expected <= indexes()
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision="0014")
        assert not expected & indexes()
        upgrade(directory=MIGRATIONS, revision="heads")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0018_indexes_a_readers_deliveries_as_the_model_has_it(backend, tmp_path, redis_server):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from service.models import Base

    with unmigrated_app(backend, tmp_path, redis_server):
        upgrade(directory=MIGRATIONS, revision="heads")

        def indexes() -> set[str]:
            return {i["name"] for i in inspect(db.engine).get_indexes("deliveries")}

        assert {"ix_deliveries_subscriber_updated", "ix_deliveries_failed_by_send"} <= indexes()
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert [d for d in differences if "deliveries" in repr(d)] == []
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision="0025")
        assert "ix_deliveries_failed_by_send" not in indexes()
        downgrade(directory=MIGRATIONS, revision="0017")
        assert "ix_deliveries_subscriber_updated" not in indexes()
        upgrade(directory=MIGRATIONS, revision="heads")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0019_and_0020_make_the_figures_imports_and_article_indexes_as_the_models_have_them(
    backend, tmp_path, redis_server
):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from service.models import Base

    with unmigrated_app(backend, tmp_path, redis_server):
        upgrade(directory=MIGRATIONS, revision="heads")
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        ours = ("newsletter_days", "list_imports", "ix_articles_")
        assert [d for d in differences if any(name in repr(d) for name in ours)] == []
        db.session.remove()
        before = ScriptDirectory(MIGRATIONS).get_revision("0019").down_revision
        downgrade(directory=MIGRATIONS, revision=before)
        tables = set(inspect(db.engine).get_table_names())
        assert not {"newsletter_days", "list_imports"} & tables
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("articles")}
        assert "ix_articles_published_id" not in indexes
        upgrade(directory=MIGRATIONS, revision="heads")
        assert {"newsletter_days", "list_imports"} <= set(inspect(db.engine).get_table_names())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0028_seals_the_plain_secrets_and_the_downgrade_opens_them(backend, tmp_path, redis_server):
    from service.sealed import PREFIX, TOTP, WEBHOOK, Sealer
    from tests.conftest import TEST_SECRET

    totp_secret = "JBSWY3DPEHPK3PXP" * 2
    current, previous = "whsec_" + "a" * 44, "whsec_" + "b" * 44
    values = {"totp": totp_secret, "current": current, "previous": previous}
    with unmigrated_app(backend, tmp_path, redis_server):
        upgrade(directory=MIGRATIONS, revision="0026")
        db.session.execute(text(
            "INSERT INTO staff (email, role, password_hash, totp_secret, recovery_codes, "
            "session_version, created_at) VALUES ('o@example.org', 'owner', 'x', :totp, '[]', 1, "
            "CURRENT_TIMESTAMP), ('p@example.org', 'owner', 'x', NULL, '[]', 1, CURRENT_TIMESTAMP)"
        ), values)  # fmt: skip
        db.session.execute(text(
            "INSERT INTO webhook_endpoints (url, events, secret, previous_secret, created_at, "
            "disabled_reason) VALUES ('https://h.example.org/', '[]', :current, :previous, "
            "CURRENT_TIMESTAMP, ''), ('https://i.example.org/', '[]', :current, '', "
            "CURRENT_TIMESTAMP, '')"
        ), values)  # fmt: skip
        db.session.execute(text(
            "INSERT INTO webhook_attempts (endpoint_id, message_id, event_type, attempted_at, "
            "response_excerpt, error, duration_ms, outcome) SELECT id, 'm', 'send.paused', "
            "CURRENT_TIMESTAMP, '', '', 0, 'delivered' FROM webhook_endpoints"
        ))  # fmt: skip
        db.session.commit()

        def stored() -> list[tuple]:
            staff = db.session.execute(text("SELECT totp_secret FROM staff ORDER BY id")).all()
            hooks = db.session.execute(
                text("SELECT secret, previous_secret FROM webhook_endpoints ORDER BY id")
            ).all()
            return [tuple(r) for r in staff + hooks]

        upgrade(directory=MIGRATIONS, revision="0028")
        (totp_row,), (nobody,), (secret, old), (other, none) = stored()
        assert nobody is None and none == ""
        assert all(v.startswith(PREFIX) for v in (totp_row, secret, old, other))
        assert not {totp_secret, current, previous} & {totp_row, secret, old, other}
        assert Sealer([TEST_SECRET], TOTP).open(totp_row) == totp_secret
        webhooks = Sealer([TEST_SECRET], WEBHOOK)
        assert [webhooks.open(v) for v in (secret, old, other)] == [current, previous, current]
        attempts = db.session.execute(text("SELECT count(*) FROM webhook_attempts")).scalar()
        assert attempts == 2  # the endpoints' column change kept their attempts
        db.session.remove()

        downgrade(directory=MIGRATIONS, revision="0026")
        assert stored() == [(totp_secret,), (None,), (current, previous), (current, "")]
        lengths = {c["name"]: getattr(c["type"], "length", None)
                   for c in inspect(db.engine).get_columns("webhook_endpoints")}  # fmt: skip
        assert lengths["secret"] == lengths["previous_secret"] == 100
        assert db.session.execute(text("SELECT count(*) FROM webhook_attempts")).scalar() == 2
        db.session.remove()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0027_makes_the_page_figures_as_the_models_have_them(backend, tmp_path, redis_server):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from service.models import Base

    with unmigrated_app(backend, tmp_path, redis_server):
        old_newsletter_at("0026")
        db.session.execute(
            text(
                "INSERT INTO subscribers (email, email_ascii, email_key, smtputf8, locale, "
                "state_version, created_at, updated_at) VALUES ('a@gmail.com', 'a@gmail.com', "
                "'a@gmail.com', false, 'en', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, "
                "updated_at) SELECT subscribers.id, newsletters.id, 'confirmed', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM subscribers, newsletters"
            )
        )
        db.session.commit()
        upgrade(directory=MIGRATIONS, revision="0027")
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        ours = ("newsletter_source_days", "signup_page")
        assert [d for d in differences if any(name in repr(d) for name in ours)] == []
        assert db.session.execute(text("SELECT status, signup_page FROM subscriptions")).all() == [
            ("confirmed", None)
        ]
        db.session.remove()
        before = ScriptDirectory(MIGRATIONS).get_revision("0027").down_revision
        downgrade(directory=MIGRATIONS, revision=before)
        assert "newsletter_source_days" not in inspect(db.engine).get_table_names()
        columns = {c["name"] for c in inspect(db.engine).get_columns("subscriptions")}
        assert "signup_page" not in columns
        assert db.session.scalar(text("SELECT count(*) FROM subscriptions")) == 1
        db.session.remove()  # no read left open while the upgrade alters the table
        upgrade(directory=MIGRATIONS, revision="heads")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0029_fills_the_reader_counts_from_the_subscriptions_and_drops_them(
    backend, tmp_path, redis_server
):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from service.models import Base
    from service.sending.scheduling import readers_by_status

    with unmigrated_app(backend, tmp_path, redis_server):
        old_newsletter_at("0028")
        db.session.execute(
            text(
                "INSERT INTO newsletters (slug, name, description, timezone, min_new_articles, "
                "is_public, filters, created_at, updated_at) VALUES ('quiet', 'Quiet', '', 'UTC', "
                "1, true, '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        statuses = ["confirmed", "confirmed", "pending", "unsubscribed", "bounced", "confirmed"]
        for n, status in enumerate(statuses):
            db.session.execute(
                text(
                    "INSERT INTO subscribers (email, email_ascii, email_key, smtputf8, locale, "
                    "state_version, created_at, updated_at) VALUES (:e, :e, :e, false, 'en', 0, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"e": f"r{n}@gmail.com"},
            )
            db.session.execute(
                text(
                    "INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, "
                    "updated_at) SELECT subscribers.id, newsletters.id, :status, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM subscribers, newsletters "
                    "WHERE subscribers.email_key = :e AND newsletters.slug = 'old'"
                ),
                {"e": f"r{n}@gmail.com", "status": status},
            )
        db.session.commit()
        upgrade(directory=MIGRATIONS, revision="0029")
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert [d for d in differences if "newsletter_reader_counts" in repr(d)] == []
        old, quiet = db.session.execute(text("SELECT id FROM newsletters ORDER BY slug")).scalars()
        rows = db.session.execute(
            text("SELECT newsletter_id, status, readers FROM newsletter_reader_counts")
        ).all()
        assert sorted(rows) == [
            (old, "bounced", 1), (old, "confirmed", 3), (old, "pending", 1),
            (old, "unsubscribed", 1),
        ]  # fmt: skip
        assert readers_by_status(old) == {
            "confirmed": 3, "pending": 1, "unsubscribed": 1, "bounced": 1,
        }  # fmt: skip
        assert readers_by_status(quiet) == {}
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision="0028")
        assert "newsletter_reader_counts" not in inspect(db.engine).get_table_names()
        assert db.session.scalar(text("SELECT count(*) FROM subscriptions")) == 6
        db.session.remove()
        upgrade(directory=MIGRATIONS, revision="heads")
