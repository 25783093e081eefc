"""Celery wired to the Flask app: tasks run inside the app context, results are ignored.

The beat schedule lives here too, so all periodic work is visible in one place.
"""

from __future__ import annotations

import os

from celery import Celery, Task, signals
from flask import Flask

from service import logs
from service.heartbeats import Pulse, beat_name
from service.metrics import processes as metrics_processes
from service.task_names import TaskName

TASK_MODULES = [
    "tasks.signup",
    "tasks.leaving",
    "tasks.digests",
    "tasks.sending",
    "tasks.outbox",
    "tasks.webhooks",
    "tasks.staff",
    "tasks.imports",
]


def beat_schedule(app: Flask) -> dict[str, dict]:
    """Periodic jobs run by `newsletter beat`."""
    return {
        "poll-feeds": {
            "task": TaskName.POLL_FEEDS,
            "schedule": float(app.config.get("FEED_POLL_SECONDS") or 900.0),
        },
        "sending-tick": {
            "task": TaskName.SENDING_TICK,
            "schedule": float(app.config.get("SEND_TICK_SECONDS") or 5.0),
        },
        "sweep-outbox": {
            "task": TaskName.SWEEP_OUTBOX,
            "schedule": app.config["OUTBOX_SWEEP_INTERVAL"],
        },
        "purge-expired-pending": {
            "task": TaskName.PURGE_PENDING,
            "schedule": 3600.0,
        },
    }


def _transport_options(app: Flask, broker: str) -> dict:
    """Broker options; the Redis ones do not apply to the embedded SQLAlchemy transport."""
    options: dict = {
        # Publishing from a web request fails at once when the broker is down (the job waits
        # in the outbox); workers keep their own reconnect loop.
        "max_retries": 0,
        "interval_start": 0,
    }
    if broker.startswith(("redis://", "rediss://")):
        options.update(
            # Above every countdown and retry delay: Redis never re-delivers a waiting task.
            visibility_timeout=6 * 3600,
            socket_connect_timeout=app.config["BROKER_PUBLISH_TIMEOUT"],
            socket_timeout=5,
        )
    return options


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app for `app`, store it in `app.extensions["celery"]` and return it."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    broker = app.config["CELERY_BROKER_URL"]
    celery = Celery(app.name, task_cls=FlaskTask, include=TASK_MODULES)
    celery.conf.update(
        broker_url=broker,
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=4,
        broker_connection_timeout=app.config["BROKER_PUBLISH_TIMEOUT"],
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(app, broker),
        beat_schedule=beat_schedule(app),
        beat_schedule_filename=f"{app.config['INSTANCE_PATH']}/celerybeat-schedule",
        timezone="UTC",
        worker_hijack_root_logger=False,
    )
    celery.set_default()
    celery.flask_app = app  # type: ignore[attr-defined]  # for the heartbeat signals below
    app.extensions["celery"] = celery
    return celery


# Our JSON lines for the worker and beat: Celery installs no format of its own, and the
# worker's banner is one line (`service/logs.py`).
signals.setup_logging.connect(logs.setup_celery_logging, weak=False)
signals.celeryd_after_setup.connect(logs.quiet_worker_banner, weak=False)

_pulses: dict[str, Pulse] = {}


@signals.worker_ready.connect
def _worker_alive(sender: object, **_: object) -> None:
    """A worker that is ready starts recording its heartbeat under its hostname."""
    app = getattr(sender.app, "flask_app", None)  # type: ignore[attr-defined]
    hostname = sender.hostname  # type: ignore[attr-defined]
    if app is not None and hostname not in _pulses:
        _pulses[hostname] = Pulse(app, "worker", hostname).start()


@signals.worker_shutdown.connect
def _worker_stopped(sender: object, **_: object) -> None:
    """A worker stopping cleanly takes its heartbeat away (scaling down is no failure)."""
    pulse = _pulses.pop(getattr(sender, "hostname", ""), None)
    if pulse is not None:
        pulse.stop()


@signals.beat_init.connect
def _beat_alive(sender: object, **_: object) -> None:
    """Beat (standalone or embedded in a worker with -B) records its heartbeat as `beat@host`."""
    app = getattr(sender.app, "flask_app", None)  # type: ignore[attr-defined]
    name = beat_name()
    if app is not None and name not in _pulses:
        _pulses[name] = Pulse(app, "beat", name).start()


@signals.worker_process_shutdown.connect
def _pool_child_stopped(pid: int | None = None, **_: object) -> None:
    """A pool child ending takes its live gauges away; its counters stay (multiprocess metrics,
    cleaned only when the stack starts: `service.metrics.processes`)."""
    metrics_processes.mark_process_dead(pid or os.getpid())
