"""`newsletter start`: the Procfile's processes under a small supervisor, for `make run`.

Each process runs in its own session, so the terminal's Ctrl-C reaches only the supervisor,
which then stops them in order of its own: SIGTERM to each program (gunicorn and Celery finish
what they are doing), SIGKILL only to one that is still there after `STOP_SECONDS`. A process
that dies on its own is reported with its exit code and restarted, after a pause that doubles
while it keeps dying (up to `MAX_BACKOFF_SECONDS`). In production run each Procfile line under
your own supervisor (systemd, a container orchestrator) with the same policy: see README.

Before anything starts, `preflight` stops a second `make run` on a busy port at once (it would
restart its web forever while its worker and beat ran beside the first on the same database),
and says when this run builds links with a port that commands in another shell will not know.

Everything it writes is one JSON line each (`service/logs.py`): its own lines (role
`supervisor`, `program` naming the Procfile process), and its programs' lines as they wrote them; a
line of theirs that is not a JSON object (a crash before logging was set up) is wrapped in
one, redacted, with the program's name as its role.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import click
from dotenv import dotenv_values
from honcho.environ import parse_procfile

from service.config import ROOT
from service.logs import json_line
from service.metrics import processes

STOP_SECONDS = 20.0
MAX_BACKOFF_SECONDS = 30.0
STABLE_SECONDS = 30.0  # a process that ran this long starts again with the shortest pause
_print_lock = threading.Lock()


def _echo(line: str) -> None:
    with _print_lock:
        click.echo(line)


def say(name: str, text: str, width: int = 0, level: int = logging.INFO) -> None:
    """One line of the supervisor's own, about process `name` ("system": all of them)."""
    _echo(json_line(__name__, text, role="supervisor", level=level, program=name))


def forward(name: str, raw: bytes) -> None:
    """A line a program wrote: as it is when it is a JSON object, else wrapped in one."""
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    try:
        whole = isinstance(json.loads(text), dict)
    except ValueError:
        whole = False
    _echo(text if whole and "\n" not in text else json_line(f"{name}.output", text, role=name))


@dataclass
class Child:
    """One Procfile process and its restarts."""

    name: str
    command: str
    width: int
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = 1.0
    restarts: int = 0
    reader: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        # `exec` makes the program itself the child (a Procfile line is one program), so
        # SIGTERM reaches gunicorn or Celery and not a shell in between.
        self.process = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {self.command}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        say("system", f"{self.name} started (pid {self.process.pid})", self.width)
        self.reader = threading.Thread(target=self._forward_output, daemon=True)
        self.reader.start()

    def _forward_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            forward(self.name, raw)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def died(self, now: float) -> None:
        """Report an exit nobody asked for and plan the restart."""
        assert self.process is not None
        ran = now - self.started_at
        if ran >= STABLE_SECONDS:
            self.backoff = 1.0
        self.restarts += 1
        self.restart_at = now + self.backoff
        say(
            "system",
            f"{self.name} exited with code {_code(self.process.returncode)} after {ran:.1f} s; "
            f"restarting in {self.backoff:.0f} s (restart {self.restarts})",
            self.width,
        )
        self.backoff = min(self.backoff * 2, MAX_BACKOFF_SECONDS)

    def terminate(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.terminate()

    def kill(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


def _code(returncode: int) -> str:
    if returncode < 0:
        return f"{returncode} ({signal.Signals(-returncode).name})"
    return str(returncode)


def _take_terminal() -> tuple[int, int] | None:
    """Become the terminal's foreground group, so Ctrl-C reaches this process and not `make`.

    Returns what to give back on exit, or None when there is no terminal to take.
    """
    try:
        fd = sys.stdin.fileno()
        if not os.isatty(fd) or os.tcgetpgrp(fd) != os.getpgrp():
            return None
        previous = os.getpgrp()
        os.setpgid(0, 0)
        _set_foreground(fd, os.getpgrp())
        return fd, previous
    except (OSError, ValueError):
        return None


def _set_foreground(fd: int, group: int) -> None:
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(fd, group)
    finally:
        signal.signal(signal.SIGTTOU, old)


def supervise(procfile: Path) -> int:
    """Run every process of `procfile` until SIGINT or SIGTERM; return 0 if all stopped cleanly."""
    commands = parse_procfile(procfile.read_text()).processes
    width = max(len(name) for name in [*commands, "system"])
    children = [Child(name, command, width) for name, command in commands.items()]
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        if not stop.is_set():
            say("system", f"{signal.Signals(signum).name} received, stopping", width)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    terminal = _take_terminal()
    try:
        for child in children:
            child.start()
        while not stop.wait(0.2):
            now = time.monotonic()
            for child in children:
                if child.restart_at is None and not child.running():
                    child.died(now)
                elif child.restart_at is not None and now >= child.restart_at:
                    child.start()
        return _stop_all(children, width)
    finally:
        if terminal is not None:
            _set_foreground(*terminal)


def _stop_all(children: list[Child], width: int) -> int:
    for child in children:
        child.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    while any(c.running() for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    clean = True
    for child in children:
        if child.running():
            clean = False
            say("system", f"{child.name} did not stop in {STOP_SECONDS:.0f} s: killed", width)
        child.kill()  # also whatever the program left in its session
        if child.process is not None:
            child.process.wait()
        if child.reader is not None:
            child.reader.join(timeout=2)
    say("system", "all stopped" if clean else "stopped, some by force", width)
    return 0 if clean else 1


def preflight(processes: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> None:
    """Refuse to start a `web` whose port is taken, before any process is spawned; and say
    so when the links this run puts in emails (`PUBLIC_URL`, by default from `PORT`) come from
    this shell only, while a `newsletter` command run elsewhere reads `.env` and would differ."""
    if "web" in processes:  # the Procfile binds ${HOST:-127.0.0.1}:${PORT:-5000}
        host = environ.get("HOST") or "127.0.0.1"
        port = environ.get("PORT") or "5000"
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise click.ClickException(f"PORT={port!r} is not a port number (1-65535)")
        if port_in_use(host, int(port)):
            raise click.ClickException(
                f"port {port} on {host} is in use: is another `make run` still running? Stop "
                f"it, or use another port (`make run PORT={int(port) + 1}`, or PORT= in "
                f"{ROOT / '.env'}). Nothing was started."
            )
    note = links_note(environ, dotenv_values(ROOT / ".env"))
    if note:
        say("system", note)


def port_in_use(host: str, port: int) -> bool:
    """Is something already listening on `host`:`port`? (A port left in TIME_WAIT is free.)"""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        return False  # the web says what is wrong with the name
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def links_note(environ: Mapping[str, str], dotenv: Mapping[str, str | None]) -> str | None:
    """A line for when this shell's PORT or PUBLIC_URL gives other links than `.env` (or the
    default) gives every other process, or None when they agree."""

    def public_url(source: Mapping[str, str | None]) -> str:
        port = source.get("PORT") or "5000"
        return (source.get("PUBLIC_URL") or f"http://127.0.0.1:{port}").rstrip("/")

    here, elsewhere = public_url(environ), public_url(dotenv)
    if here == elsewhere:
        return None
    shell = " ".join(
        f"{key}={environ[key]}"
        for key in ("PORT", "PUBLIC_URL")
        if environ.get(key) and environ.get(key) != dotenv.get(key)
    )
    return (
        f"links in emails use {here} ({shell}, set in this shell only); a `newsletter` command "
        f"in another shell reads {ROOT / '.env'} and would link to {elsewhere}. Put {shell} "
        f"in .env so every process builds the same links."
    )


@click.command("start")
@click.option(
    "--procfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=ROOT / "Procfile",
    show_default=True,
)
def start(procfile: Path) -> None:
    """Run the Procfile's processes (web, worker, beat), restarting one that dies; Ctrl-C stops all."""
    try:
        preflight(parse_procfile(procfile.read_text()).processes)
    except click.ClickException as refused:
        say("system", refused.format_message(), level=logging.ERROR)
        sys.exit(refused.exit_code)
    processes.clean()  # the stack starts: metric files of an earlier run go (service/metrics)
    sys.exit(supervise(procfile))


COMMANDS = [start]
