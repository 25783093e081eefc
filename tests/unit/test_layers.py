"""The house's one rule, read from the code's own imports: each part imports only parts below it.

From the top: the outer ring (`http/`, `console/`, `cli/`, `tasks/`, which never import one another), the
capabilities in the order of
`CAPABILITIES`, then the shared ground (`outbox`, `mail/`, the shared policies, the wiring and
`models/`). The README's code map describes the same layers.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTER = ("service/http", "service/console", "service/cli", "tasks")
CAPABILITIES = (  # highest first
    "service/bounces",  # bounce mail in (VERP, DSN, ARF): hands each report to deliverability
    "service/sending",
    "service/deliverability",  # bounces and complaints in: the send path records its 5xx here
    "service/digests",
    "service/signup",
    "service/lists",
    "service/leaving",
    "service/webhooks",  # events out: every capability above may announce its changes
    "service/staff",  # the console's accounts and roles
)
# The shared ground may import only within itself (create_app, the one wiring module that
# registers the outer ring, is the exception).
WIRING = "service/__init__"


def part_of(module: str) -> str | None:
    """The part (`service/signup`, `service/outbox`, `tasks`...) a dotted module name is in."""
    names = module.split(".")
    if names[0] == "tasks":
        return "tasks"
    if names[0] != "service":
        return None
    if len(names) == 1:
        return WIRING
    return f"service/{names[1]}"


def imports_by_part(
    files: Iterable[tuple[Path, str]] | None = None,
) -> dict[str, dict[str, set[str]]]:
    """part -> imported part -> the files that import it, for `files` (relative path, text);
    by default every module of `service/` and `tasks/`."""
    if files is None:
        paths = [*ROOT.glob("service/**/*.py"), *ROOT.glob("tasks/*.py")]
        files = [(p.relative_to(ROOT), p.read_text(encoding="utf-8")) for p in paths]
    edges: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for relative, text in files:
        source = part_of(".".join(relative.with_suffix("").parts).removesuffix(".__init__"))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from service import outbox` imports service/outbox, not the wiring
                names = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = names if node.module == "service" else [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in filter(None, map(part_of, targets)):
                if target != source:
                    edges[source][target].add(str(relative))
    return edges


EDGES = imports_by_part()


def test_the_reading_sees_the_imports_it_should():
    """The reader itself: known imports must show up, or every other test here proves nothing."""
    assert "service/outbox" in EDGES["service/signup"]
    assert "service/addresses" in EDGES["service/mail"]
    assert "service/lists" in EDGES["service/sending"]


def test_no_two_parts_import_each_other():
    both_ways = sorted(
        (a, b, sorted(EDGES[a][b]), sorted(EDGES[b][a]))
        for a in EDGES
        for b in EDGES[a]
        if a < b and a in EDGES.get(b, {}) and {a, b} != {WIRING, "service/cli"}
    )
    assert both_ways == []


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_a_capability_imports_no_higher_capability_nor_the_outer_ring(capability):
    higher = CAPABILITIES[: CAPABILITIES.index(capability)]
    wrong = {
        part: sorted(files)
        for part, files in EDGES[capability].items()
        if part in higher or part in OUTER
    }
    assert wrong == {}


def test_the_shared_ground_imports_no_capability_nor_the_outer_ring():
    above = (*OUTER, *CAPABILITIES)
    wrong = {
        (part, target): sorted(files)
        for part, targets in EDGES.items()
        if part not in above and part != WIRING
        for target, files in targets.items()
        if target in above
    }
    assert wrong == {}


def test_services_never_import_tasks():
    """Services enqueue by name through the outbox; only tasks/ (and the wiring) know Celery's."""
    wrong = {part: sorted(files["tasks"]) for part, files in EDGES.items() if "tasks" in files}
    assert wrong == {}


def sideways(edges: dict[str, dict[str, set[str]]]) -> dict[tuple[str, str], list[str]]:
    """Imports from one part of the outer ring into another: (part, imported part) -> files."""
    return {
        (part, target): sorted(files)
        for part in OUTER
        for target, files in edges.get(part, {}).items()
        if target in OUTER
    }


def test_the_outer_ring_never_imports_itself_sideways():
    """The web layer, the CLI and the tasks are three doors onto the same capabilities: what two
    of them share belongs in a capability or the shared ground, never in one of the doors."""
    assert sideways(EDGES) == {}


def test_a_sideways_import_is_caught():
    """The check above can fail: each of the six sideways directions, written as code, is seen."""
    files = [
        (
            Path("service/http/x.py"),
            "from service.cli.admin import api_keys\nimport tasks.digests\n",
        ),
        (Path("service/cli/x.py"), "from service.http import errors\nfrom tasks import sending\n"),
        (Path("tasks/x.py"), "import service.http.errors\nfrom service import cli\n"),
        (Path("service/http/y.py"), "from service.lists import newsletters\n"),  # not sideways
    ]
    assert set(sideways(imports_by_part(files))) == {
        ("service/http", "service/cli"),
        ("service/http", "tasks"),
        ("service/cli", "service/http"),
        ("service/cli", "tasks"),
        ("tasks", "service/http"),
        ("tasks", "service/cli"),
    }
