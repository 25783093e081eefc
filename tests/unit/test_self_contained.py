"""A clone is the whole project: nothing in it reads or links a path beside the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Spelled in two pieces so this file does not match itself.
OUTSIDE = ("../" + "shared", "/work/" + "shared")


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = []
    for name in names:
        path = ROOT / name
        if path.suffix in {".py", ".md", ".html", ".txt", ".toml", ".cfg", ".ini", ".json"} or (
            path.name in {"Makefile", "Procfile"}
        ):
            files.append(path)
    return files


def test_no_file_references_a_path_outside_the_repo() -> None:
    files = _tracked_text_files()
    assert any(p.name == "test_addresses.py" for p in files)  # the scan sees the tests
    offenders = [
        f"{path.relative_to(ROOT)}: {marker}"
        for path in files
        if path.is_file()
        for marker in OUTSIDE
        if marker in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []


def test_vendored_data_and_interface_document_are_in_the_repo() -> None:
    assert (ROOT / "tests/data/isemail-tests.json").is_file()
    assert "BSD" in (ROOT / "tests/data/isemail-LICENSE.md").read_text(encoding="utf-8")
    interface = (ROOT / "docs/interface.md").read_text(encoding="utf-8")
    assert "tests/data/isemail-tests.json" in interface
    assert "(docs/interface.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
