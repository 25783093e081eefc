"""Structured logs: one JSON object per line on stderr, for web, worker and CLI alike.

No line carries a secret: the message and any traceback go through `service.redaction`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from service.redaction import redact
from service.task_names import TaskName


class JsonFormatter(logging.Formatter):
    """Formats a record as a single JSON line, secrets redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key in ("event", "subscriber_id", "send_id", "job_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


# Periodic tasks that usually find nothing to do; they log themselves when they do something.
ROUTINE_TASKS = (TaskName.SWEEP_OUTBOX, TaskName.SENDING_TICK)
# Where Celery logs "sending due task" (beat), "received" and "succeeded" (worker).
CELERY_ROUTINE_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace")


class RoutineTaskFilter(logging.Filter):
    """Drops Celery's INFO lines about the routine periodic tasks; warnings and errors pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        return not any(task in message for task in ROUTINE_TASKS)


def configure_logging(level: str = "INFO") -> None:
    """Send our loggers and Flask-Limiter's to stderr as JSON lines (once per process).

    Celery's own lines about the routine periodic tasks are dropped, so an idle `make run`
    stays quiet.
    """
    for name in CELERY_ROUTINE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RoutineTaskFilter) for f in logger.filters):
            logger.addFilter(RoutineTaskFilter())
    for name in ("service", "tasks", "flask-limiter"):
        logger = logging.getLogger(name)
        if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
            continue
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
