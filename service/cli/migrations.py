"""`newsletter db downgrade` asks first when the revisions it undoes drop tables or columns.

The migrations' own `downgrade()` functions are read (their `drop_table` / `drop_column`
calls), the tables' rows counted, and the list shown before anything runs; `--yes` skips the
question for scripts. Every other `db` command is Flask-Migrate's, unchanged.
"""

from __future__ import annotations

import ast
import copy
import inspect
import sys
import textwrap
from typing import Any

import click
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select, table
from sqlalchemy import inspect as sql_inspect

from service.extensions import db


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())


def _revisions_undone(target: str) -> list[Any]:
    """The revisions a downgrade to `target` runs, newest first."""
    script = _script()
    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    if not current:
        return []
    steps = None
    if target.startswith("-") and target[1:].isdigit():
        steps, target = int(target[1:]), "base"
    revisions = [r for r in script.iterate_revisions(current, target) if r is not None]
    if target != "base":
        kept = script.get_revision(target).revision
        revisions = [r for r in revisions if r.revision != kept]
    return revisions[:steps] if steps is not None else revisions


def _drops(revision: Any) -> list[tuple[str, str | None]]:
    """(table, column) pairs the revision's downgrade drops; column None for a whole table."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(revision.module.downgrade)))
    found: list[tuple[str, str | None]] = []

    def literal(node: ast.AST) -> str | None:
        return (
            node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
        )

    def walk(node: ast.AST, batch_table: str | None) -> None:
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if (
                    isinstance(call, ast.Call)
                    and getattr(call.func, "attr", "") == "batch_alter_table"
                ):
                    batch_table = literal(call.args[0]) if call.args else batch_table
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            args = [literal(a) for a in node.args]
            if node.func.attr == "drop_table" and args and args[0]:
                found.append((args[0], None))
            elif node.func.attr == "drop_column":
                if len(args) >= 2 and args[0] and args[1]:
                    found.append((args[0], args[1]))
                elif args and args[0] and batch_table:
                    found.append((batch_table, args[0]))
        for child in ast.iter_child_nodes(node):
            walk(child, batch_table)

    walk(tree, None)
    return found


def _rows(name: str) -> int | None:
    if not sql_inspect(db.engine).has_table(name):
        return None
    return db.session.scalar(select(func.count()).select_from(table(name)))


def data_lost(target: str) -> list[str]:
    """What a downgrade to `target` would drop, one line per table or column, with row counts."""
    lines = []
    for revision in _revisions_undone(target):
        for name, column in _drops(revision):
            rows = _rows(name)
            count = "" if rows is None else f" ({rows:,} rows)"
            what = f"table {name}" if column is None else f"column {name}.{column}"
            lines.append(f"{what}{count}  [revision {revision.revision}]")
    return lines


def guarded_db_group(group: click.Group) -> click.Group:
    """Flask-Migrate's `db` group with `downgrade` asking before it drops data."""
    original = group.commands["downgrade"]

    @click.command("downgrade", help=(original.help or "") + "\n\nAsks before dropping data.")
    @click.option("--yes", is_flag=True, help="Do not ask: the data loss is intended.")
    @click.pass_context
    @with_appcontext
    def downgrade(ctx: click.Context, yes: bool, **options: Any) -> None:
        target = options.get("revision") or "-1"
        if not options.get("sql"):
            lost = data_lost(target)
            if lost and not yes:
                listing = "\n".join(f"  - {line}" for line in lost)
                click.echo(f"Downgrading to {target} drops:\n{listing}", err=True)
                if not sys.stdin.isatty():
                    raise click.ClickException(
                        "nothing was changed; run again with --yes to confirm the data loss"
                    )
                click.confirm("Drop this data?", abort=True, err=True)
        ctx.invoke(original, **options)

    downgrade.params[:0] = [p for p in original.params]
    guarded = copy.copy(group)  # the group's own callback (Flask-Migrate's options) is kept
    guarded.commands = {**group.commands, "downgrade": downgrade}
    return guarded
