"""prometheus-client's multiprocess mode: one directory of files that every process writes.

Each process (a gunicorn worker, a Celery pool child, beat) keeps its counters and histograms
in memory-mapped files named by its pid in `PROMETHEUS_MULTIPROC_DIR`; `GET /metrics` adds up
every file there, so gunicorn's processes and Celery's children count as one service and a
process that exited (a restarted child) still counts what it did. The files are kept across
process restarts and cleaned only when the stack starts (`clean`, run by `newsletter start`
and `newsletter metrics clean`), as prometheus-client documents: cleaning while processes run
would take counts away.

A live gauge (work in progress) is one file per process; a process that ended takes its file
away (`mark_process_dead`: gunicorn's `child_exit` hook in its master, Celery's
`worker_process_shutdown` in the child). This module needs only the standard library and
`python-dotenv`, so gunicorn's master loads it alone: importing prometheus-client there would
import `ssl` before the gevent worker patches it.
"""

from __future__ import annotations

import contextlib
import glob
import os
from pathlib import Path

from dotenv import load_dotenv

ENV = "PROMETHEUS_MULTIPROC_DIR"
LIVE_MODES = ("liveall", "livesum", "livemostrecent", "livemax", "livemin")  # as the library's
ROOT = Path(__file__).resolve().parents[2]

load_dotenv(ROOT / ".env", override=False)  # before prometheus-client reads the variable


def directory() -> Path | None:
    """The multiprocess directory, or None when metrics count per process only."""
    value = (os.environ.get(ENV) or "").strip()
    return Path(value) if value else None


def prepare(path: Path | None = None) -> Path | None:
    """Make the directory if it is missing (prometheus-client needs it to exist)."""
    path = path or directory()
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
    return path


def clean(path: Path | None = None) -> int:
    """Delete every process's metric files (at the stack's start only); how many went."""
    path = prepare(path)
    if path is None:
        return 0
    removed = 0
    for name in glob.glob(str(path / "*.db")):
        os.remove(name)
        removed += 1
    return removed


def mark_process_dead(pid: int, path: Path | str | None = None) -> None:
    """Take away the live gauges of process `pid`, which ended (its counters stay).

    The same bookkeeping as `prometheus_client.multiprocess.mark_process_dead`, on the same
    file names, without importing the library (see the module's docstring).
    """
    folder = path or directory()
    if folder is None:
        return
    for mode in LIVE_MODES:
        for name in glob.glob(os.path.join(folder, f"gauge_{mode}_{pid}.db")):
            with contextlib.suppress(FileNotFoundError):  # marked already
                os.remove(name)


prepare()
