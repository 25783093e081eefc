"""Structured logs: every line any process writes is one JSON object, secrets redacted.

One format for web (the app and gunicorn's access and error logs), worker and beat (Celery's
own lines too), the CLI and `newsletter start`'s supervisor:

    {"ts": "2026-12-07T07:00:00.123+00:00", "level": "info", "logger": "service.x",
     "message": "...", "role": "worker", "request_id": "...", "send_id": 7, ...extras}

`request_id` and `send_id` come from context variables (`bound`): the web sets the request id
for each request (`service.http.request_ids`), the outbox stores it with every job a request
causes and binds it again while the job runs, so the jobs that job causes inherit it; the
sending code binds the send id. Every string in a line, the message, a traceback and each
extra, goes through `service.redaction` first, so no token or key is written, and JSON's
escaping keeps a CR or LF inside its line (no forged lines).

This module is also loaded by its path from `gunicorn_web.py` in gunicorn's master, before
the gevent worker patches the standard library: it imports nothing of the `service` package
at module level then (see `_sibling`).
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter


def _sibling(name: str) -> ModuleType:
    """`service/<name>.py` loaded by its path, without importing the `service` package."""
    key = f"newsletter_log_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[key] = module
    return sys.modules[key]


if __package__ == "service":
    from service.redaction import redact
else:  # loaded by its path (gunicorn's master)
    redact = _sibling("redaction").redact

ROLES = ("web", "worker", "beat", "bounces", "cli", "supervisor")
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_MAX = 128
# What a request id taken from a client or proxy may hold: UUIDs, hex, base64, AWS trace ids.
_SANE_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:=+/-]{{1,{REQUEST_ID_MAX}}}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
send_id: ContextVar[int | None] = ContextVar("send_id", default=None)
_role = "cli"


def sane_request_id(value: str | None) -> str | None:
    """`value` if it may be used as a request id (bounded, a safe charset), else None."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


@contextmanager
def bound(*, request: str | None = None, send: int | None = None) -> Iterator[None]:
    """Log lines written inside carry this request id and/or send id (None leaves one as is)."""
    tokens = []
    if request is not None:
        tokens.append((request_id, request_id.set(request)))
    if send is not None:
        tokens.append((send_id, send_id.set(send)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


@contextmanager
def detached() -> Iterator[None]:
    """Lines written inside carry no request or send id, as in a worker's fresh thread."""
    tokens = [(request_id, request_id.set(None)), (send_id, send_id.set(None))]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def set_role(role: str) -> None:
    """Name this process's role (one of `ROLES`) on every line it writes."""
    global _role
    _role = role


def guess_role(argv: Sequence[str]) -> str:
    """The role of a process started with `argv` (gunicorn, `celery … worker`, `newsletter
    beat`, `newsletter bounces serve`, …); `cli` for anything else."""
    program = Path(argv[0]).name if argv else ""
    words = set(argv[1:])
    if "gunicorn" in program:
        return "web"
    if {"bounces", "serve"} <= words:
        return "bounces"
    if "beat" in words and "worker" not in words:
        return "beat"
    if "worker" in words:
        return "worker"
    return "cli"


_OURS = frozenset(("ts", "level", "logger", "role", "request_id"))  # made here, never secret


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


class JsonFormatter(_LibraryJsonFormatter):
    """python-json-logger's formatter with our field names, context and redaction.

    `role` fixes the process role of this formatter's lines (gunicorn's); by default it is
    the process's (`set_role`).
    """

    def __init__(self, *_: object, role: str | None = None, **__: object):
        super().__init__(
            "%(message)s",
            rename_fields={"exc_info": "exc", "stack_info": "stack"},
            json_ensure_ascii=False,
            json_default=str,
        )
        self.role = role

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["ts"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        log_data["level"] = record.levelname.lower()
        log_data["logger"] = record.name
        super().add_fields(log_data, record, message_dict)
        log_data["role"] = self.role or _role
        for key, var in (("request_id", request_id), ("send_id", send_id)):
            if log_data.get(key) is None:
                value = var.get()
                if value is not None:
                    log_data[key] = value
                else:
                    log_data.pop(key, None)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        for key, value in log_data.items():
            if key not in _OURS and isinstance(value, str | dict | list | tuple):
                log_data[key] = _redacted(value)
        return log_data


def json_line(
    logger: str, message: str, *, role: str | None = None, level: int = logging.INFO, **extra: Any
) -> str:
    """One line in the log format, written by hand (a supervisor's, a banner's), whatever
    the logging configuration: for output that must be JSON lines too."""
    record = logging.makeLogRecord({"name": logger, "levelno": level, "msg": message})
    record.levelname = logging.getLevelName(level)
    record.__dict__.update(extra)
    return JsonFormatter(role=role).format(record)


# Periodic tasks that usually find nothing to do; they log themselves when they do something.
# Where Celery logs "sending due task" (beat), "received" and "succeeded" (worker).
CELERY_ROUTINE_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace")


class RoutineTaskFilter(logging.Filter):
    """Drops Celery's INFO lines about the routine periodic tasks; warnings and errors pass."""

    def __init__(self, tasks: Sequence[str]):
        super().__init__()
        self.tasks = tuple(tasks)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        return not any(task in message for task in self.tasks)


def _json_handler(stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    return handler


def configure_logging(level: str = "INFO", role: str | None = None) -> None:
    """Make this process write every log line as JSON to stderr (once per process).

    One handler on the root logger, so the app's loggers, Flask-Limiter's, Celery's and any
    library's go through the same format; Python's warnings are logged too. Celery's own lines
    about the routine periodic tasks are dropped, so an idle `make run` stays quiet.
    """
    from service.task_names import TaskName

    set_role(role or guess_role(sys.argv))
    routine = (TaskName.SWEEP_OUTBOX, TaskName.SENDING_TICK)
    for name in CELERY_ROUTINE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RoutineTaskFilter) for f in logger.filters):
            logger.addFilter(RoutineTaskFilter(routine))
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.addHandler(_json_handler())
    root.setLevel(level)
    for name in ("service", "tasks", "flask-limiter"):  # their handlers of old releases
        logger = logging.getLogger(name)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    logging.captureWarnings(True)


def setup_celery_logging(loglevel: int | str | None = None, **_: object) -> None:
    """Celery's `setup_logging` signal: the worker's or beat's lines in our format.

    Celery then installs no format of its own (nor its task logger's); what a task prints
    on stdout or stderr is logged as a warning of `celery.redirected`, as Celery would.
    """
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.addHandler(_json_handler(sys.__stderr__))
    if loglevel:
        root.setLevel(loglevel)
    role = guess_role(sys.argv)
    set_role(role if role != "cli" else "worker")
    from celery import current_app

    current_app.log.redirect_stdouts_to_logger(
        logging.getLogger("celery.redirected"), loglevel=logging.WARNING
    )


def _say(msg: str, f: object = None) -> None:
    """Celery's `safe_say` (shutdown and restart notes it prints past its loggers), logged."""
    logging.getLogger("celery.apps.worker").info("%s", msg.strip())


def quiet_worker_banner(sender: object = None, instance: Any = None, **_: object) -> None:
    """Celery's `celeryd_after_setup` signal: its banner (a multi-line ASCII picture on
    stdout) becomes one log line."""
    if instance is None:
        return
    instance.quiet = True
    from celery.apps import worker

    worker.safe_say = _say
    logging.getLogger("celery.worker").info(
        "%s starting: %s",
        sender,
        " ".join(instance.startup_info(artlines=False).split()),
    )
