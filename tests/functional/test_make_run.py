"""`make run` as a newcomer meets it: in a terminal, quiet when idle, Ctrl-C stops it with exit 0.

`make run` runs in a pseudo-terminal of its own (so Ctrl-C is the terminal's, sent to its
foreground group as a keyboard sends it), on a free PORT and a temporary INSTANCE_PATH. The
supervisor's restarts are tested on a Procfile of small shell processes.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import socket
import subprocess
import termios
import threading
import time

import pytest
from dotenv import dotenv_values

from service.cli.run import links_note
from tests.conftest import ROOT, free_port, wait_for_port
from tests.functional.test_first_hour import NEWSLETTER, clean_env


class Terminal:
    """A pseudo-terminal running one command as its session leader; collects what it prints."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        self.master, slave = pty.openpty()
        self.output = bytearray()
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            preexec_fn=self._own_terminal,
        )
        os.close(slave)
        threading.Thread(target=self._read, daemon=True).start()

    @staticmethod
    def _own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def wait_for(self, pattern: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text()):
            assert self.process.poll() is None, self.text()[-3000:]
            assert time.monotonic() < deadline, f"no {pattern!r} in:\n{self.text()[-3000:]}"
            time.sleep(0.1)

    def ctrl_c(self) -> None:
        os.write(self.master, b"\x03")

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)


def test_make_run_is_quiet_when_idle_and_ctrl_c_stops_everything_with_exit_0(tmp_path):
    port = free_port()
    env = clean_env(
        PORT=str(port), INSTANCE_PATH=str(tmp_path / "instance"), OUTBOX_SWEEP_INTERVAL="1"
    )
    terminal = Terminal(["make", "run"], env)
    try:
        # Up to a few minutes only when pyproject.toml changed and make reinstalls first.
        terminal.wait_for(r"celery@\S+ ready", timeout=240)
        wait_for_port(port, timeout=30)
        terminal.wait_for(r"beat: Starting", timeout=30)
        time.sleep(4)  # several sweeps, each finding nothing to publish
        idle = terminal.text()
        assert "Task outbox.sweep" not in idle and "due task sweep-outbox" not in idle
        assert "Demo signup page" in idle
        terminal.ctrl_c()
        pressed = time.monotonic()
        returncode = terminal.process.wait(timeout=30)
        print(f"stopped {time.monotonic() - pressed:.1f} s after Ctrl-C")
    finally:
        terminal.close()
    output = terminal.text()
    assert returncode == 0, output[-3000:]
    assert "all stopped" in output
    for bad in ("SIGKILL", "Error 130", "Interrupt", "ERROR", "Traceback"):
        assert bad not in output, (bad, output[-3000:])
    # Every line is one JSON object (the terminal's own echo of Ctrl-C aside). Only make's
    # rebuild of .venv, when pyproject.toml changed, prints before the first one.
    lines = [line for line in output.replace("^C", "").splitlines() if line.strip()]
    first = next(i for i, line in enumerate(lines) if line.startswith("{"))
    for line in lines[first:]:
        assert isinstance(json.loads(line), dict), line
    assert (tmp_path / "instance" / "broker.db").is_file()  # the temporary instance, not the repo's


def test_a_process_that_dies_is_reported_and_restarted(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("flaky: sh -c 'echo flaky up; exit 3'\nsteady: sleep 60\n")
    log = tmp_path / "start.log"
    with log.open("wb") as handle:
        supervisor = subprocess.Popen(
            [str(NEWSLETTER), "start", "--procfile", str(procfile)],
            cwd=ROOT,
            env=clean_env(INSTANCE_PATH=str(tmp_path / "instance")),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while log.read_text().count("flaky started") < 2:
                assert supervisor.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            supervisor.send_signal(signal.SIGTERM)
            returncode = supervisor.wait(timeout=30)
        finally:
            if supervisor.poll() is None:
                supervisor.kill()
    output = log.read_text()
    assert "flaky exited with code 3" in output and "restarting in 1 s (restart 1)" in output
    assert output.count("steady started") == 1  # the healthy one is left alone
    assert returncode == 0 and "all stopped" in output


def _start(
    procfile, env: dict[str, str], seconds: float, until: str | None = None
) -> tuple[int | None, str]:
    """Run `newsletter start` on `procfile` until it prints `until` (or exits), at most
    `seconds`; its exit code (None if still running: then stopped with SIGTERM, which stops
    its children) and what it printed. Waiting for the text, not a fixed time, holds on a
    loaded machine, where the start alone can take several seconds."""
    process = subprocess.Popen(
        [str(NEWSLETTER), "start", "--procfile", str(procfile)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        if until is not None and until in "".join(lines):
            break
        time.sleep(0.05)
    returncode = process.poll()
    if returncode is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    reader.join(timeout=10)
    return returncode, "".join(lines)


def test_a_busy_port_stops_the_start_at_once_with_nothing_spawned(tmp_path):
    """A second `make run`: no web restarting forever beside a second worker and beat."""
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: sleep 60\nworker: sleep 60\nbeat: sleep 60\n")
    with socket.socket() as first_run:  # what the first `make run`'s web holds
        first_run.bind(("127.0.0.1", 0))
        first_run.listen()
        port = first_run.getsockname()[1]
        started = time.monotonic()
        env = clean_env(PORT=str(port), INSTANCE_PATH=str(tmp_path / "instance"))
        returncode, output = _start(procfile, env, seconds=20)
    assert returncode == 1, output
    assert time.monotonic() - started < 15
    assert f"port {port} on 127.0.0.1 is in use" in output and "Nothing was started" in output
    assert "started (pid" not in output and "Traceback" not in output


def test_a_free_port_starts_as_before(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: sleep 60\n")
    env = clean_env(PORT=str(free_port()), INSTANCE_PATH=str(tmp_path / "instance"))
    returncode, output = _start(procfile, env, seconds=60, until="web started (pid")
    assert returncode is None and "web started (pid" in output, output


def test_links_from_this_shell_only_are_pointed_out(tmp_path):
    """`make run PORT=8123` links emails to :8123; a `newsletter digest preview` in another
    shell reads .env, so the start says to put PORT there."""
    procfile = tmp_path / "Procfile"
    procfile.write_text("idle: sleep 60\n")
    from_dotenv = dotenv_values(ROOT / ".env").get("PORT") or "5000"
    port = str(free_port())
    assert port != from_dotenv
    env = clean_env(PORT=port, INSTANCE_PATH=str(tmp_path / "instance"))
    env.pop("PUBLIC_URL", None)
    _, output = _start(procfile, env, seconds=60, until="idle started (pid")
    assert f"links in emails use http://127.0.0.1:{port} (PORT={port}, set in this shell" in output
    assert f"Put PORT={port} in .env" in output


@pytest.mark.parametrize(
    ("environ", "dotenv", "note"),
    [
        ({}, {}, None),
        ({"PORT": "5000"}, {}, None),  # the default everywhere
        ({"PORT": "8000"}, {"PORT": "8000"}, None),  # from .env (load_dotenv put it here)
        ({"PORT": "8000"}, {}, "use http://127.0.0.1:8000 (PORT=8000, set in this shell only)"),
        ({"PORT": "5000"}, {"PORT": "8000"}, "would link to http://127.0.0.1:8000"),
        (
            {"PORT": "5000", "PUBLIC_URL": "https://dev.example.org/"},
            {"PORT": "5000"},
            "Put PUBLIC_URL=https://dev.example.org/ in .env",
        ),
        ({"PUBLIC_URL": "http://127.0.0.1:5000/"}, {}, None),
    ],
)
def test_links_note(environ, dotenv, note):
    got = links_note(environ, dotenv)
    assert (got is None) if note is None else (note in got), got


def test_make_run_leaves_port_and_public_url_to_dotenv():
    """The Makefile used to pass PORT=5000 and its PUBLIC_URL to `newsletter start` itself,
    which beat what .env says (the environment wins over .env), so the web and the emails
    used 5000 while every other command used .env's port."""
    plan = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, env=clean_env(), capture_output=True, text=True
    )
    [line] = [line for line in plan.stdout.splitlines() if line.endswith("newsletter start")]
    assert "PORT" not in line and "PUBLIC_URL" not in line
