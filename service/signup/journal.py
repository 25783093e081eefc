"""The embedded layout's spool: an append-only journal file under `INSTANCE_PATH`.

`signup-spool.jsonl` takes one line per signup, written and fsync'd under an exclusive lock
before the reader is answered 202. `signup-spool.done` holds how many of its bytes the
database already has (also fsync'd), so a replay that stops (the database gone again, the
process killed) resumes there; the receipts make a line replayed twice count once. When
every line is replayed, both are emptied. A line cut short by a crash (no newline) never
had its 202 and is skipped.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service.signup.spool import SpoolUnavailable

JOURNAL = "signup-spool.jsonl"
DONE = "signup-spool.done"
APPEND_LOCK = "signup-spool.lock"
REPLAY_LOCK = "signup-spool.replaying"


class JournalSpool:
    """The journal of one instance folder; several processes may append, one replays."""

    def __init__(self, instance: str | os.PathLike[str]) -> None:
        self.folder = Path(instance)
        self.path = self.folder / JOURNAL
        self._done = self.folder / DONE

    @contextmanager
    def _locked(self, name: str, blocking: bool = True) -> Iterator[bool]:
        fd = os.open(self.folder / name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # closing releases the lock

    def append(self, line: bytes) -> None:
        """Write `line` at the end and fsync it; SpoolUnavailable if the disk will not."""
        try:
            with self._locked(APPEND_LOCK):
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    size = os.fstat(fd).st_size
                    if size and os.pread(fd, 1, size - 1) != b"\n":
                        line = b"\n" + line  # a torn last line stays alone on its line
                    written = os.write(fd, line)
                    if written != len(line):
                        raise OSError(f"wrote {written} of {len(line)} bytes")
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise SpoolUnavailable(f"journal {self.path}: {exc}") from exc

    def _offset(self) -> int:
        try:
            return int(self._done.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def oldest(self, count: int) -> list[bytes]:
        """The first `count` complete lines not replayed yet (empty ones skipped as lines)."""
        try:
            with self.path.open("rb") as journal:
                journal.seek(self._offset())
                lines = []
                for line in journal:
                    if not line.endswith(b"\n") or len(lines) == count:
                        break
                    lines.append(line)
                return lines
        except FileNotFoundError:
            return []

    def drop(self, count: int) -> None:
        """Mark the first `count` lines replayed; empty the journal once all are."""
        offset = self._offset() + sum(len(line) for line in self.oldest(count))
        with self._locked(APPEND_LOCK):
            size = self.path.stat().st_size if self.path.exists() else 0
            if offset >= size:  # nothing left: start afresh (appends wait on the lock)
                if self.path.exists():
                    os.truncate(self.path, 0)
                offset = 0
            fd = os.open(self._done, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, str(offset).encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    @contextmanager
    def replaying(self) -> Iterator[bool]:
        """True while this process holds the replayer's lock (released if it dies)."""
        with self._locked(REPLAY_LOCK, blocking=False) as held:
            yield held

    def renew(self) -> None:
        """A file lock lasts as long as its process: nothing to renew."""
