"""No file in the repository carries the markers a merge leaves in a conflict (they would be
served as text on a page, or break a module only where it is imported)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def test_no_tracked_file_holds_a_conflict_marker():
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    found = []
    for name in listed.stdout.splitlines():
        path = ROOT / name
        if not path.is_file() or path.suffix in {".png", ".gz", ".woff2", ".ico"}:
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        found += [f"{name}:{text[: m.start()].count(chr(10)) + 1}" for m in MARKER.finditer(text)]
    assert found == []
