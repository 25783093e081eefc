"""staff TOTP secrets and webhook secrets sealed at rest (service/sealed.py): the columns become
text (a sealed value is longer) and every plain value is sealed under the newest SECRET_KEY;
the downgrade opens them again (it stops, naming the row, at one no configured key opens)

Runs with the app's configuration (flask-migrate's app context: migrations/env.py), so
`newsletter db upgrade` seals under the same keys the web and the workers open with.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 09:00:00

"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

from service.sealed import TOTP, WEBHOOK, Sealer, Unreadable, is_sealed

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

# table, column, its length before, nullable, purpose
COLUMNS = (
    ("staff", "totp_secret", 64, True, TOTP),
    ("webhook_endpoints", "secret", 100, False, WEBHOOK),
    ("webhook_endpoints", "previous_secret", 100, False, WEBHOOK),
)


def _retype(table: str, column: str, new: sa.types.TypeEngine, old: sa.types.TypeEngine,
            nullable: bool) -> None:  # fmt: skip
    """Change a column's type. SQLite: a new column, copied, the old one dropped, the new one
    renamed (native ALTERs, 3.35+), never batch mode's table copy: dropping
    `webhook_endpoints` under `foreign_keys=ON` would cascade to its attempts."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=nullable)
        return
    spelled = new.compile(dialect=bind.dialect)
    constraint = "" if nullable else " NOT NULL DEFAULT ''"
    op.execute(f"ALTER TABLE {table} ADD COLUMN {column}_retyped {spelled}{constraint}")
    op.execute(f"UPDATE {table} SET {column}_retyped = {column}")  # noqa: S608
    op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    op.execute(f"ALTER TABLE {table} RENAME COLUMN {column}_retyped TO {column}")


def _convert(table: str, column: str, purpose: str, change) -> None:
    """Rewrite each non-empty value of `table.column` with `change(sealer, value, row id)`."""
    bind = op.get_bind()
    box = Sealer(current_app.config["SECRET_KEYS"], purpose)
    rows = bind.execute(
        sa.text(f"SELECT id, {column} FROM {table} WHERE {column} <> ''")  # noqa: S608
    ).all()
    update = sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id")  # noqa: S608
    for row_id, value in rows:
        changed = change(box, value, row_id)
        if changed != value:
            bind.execute(update, {"value": changed, "id": row_id})


def upgrade():
    for table, column, length, nullable, purpose in COLUMNS:
        _retype(table, column, sa.Text(), sa.String(length), nullable)
        _convert(table, column, purpose,
                 lambda box, value, _id: value if is_sealed(value) else box.seal(value))  # fmt: skip


def downgrade():
    for table, column, length, nullable, purpose in COLUMNS:

        def opened(box, value, row_id, table=table, column=column):
            try:
                return box.open(value)
            except Unreadable:
                raise RuntimeError(
                    f"cannot downgrade: {table} {row_id} {column} opens with no key in "
                    "SECRET_KEY; put the key that sealed it back at the end of the list first"
                ) from None

        _convert(table, column, purpose, opened)
        _retype(table, column, sa.String(length), sa.Text(), nullable)
