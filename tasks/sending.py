"""Digest sending tasks: thin wrappers over service.sending (ids in, one service call)."""

from celery import shared_task, signals

from service import logs, outbox
from service.sending import batches, fanout, keeper, scheduling
from service.sending import brakes as sending_brakes
from service.task_names import TaskName


@shared_task(name=TaskName.START_SEND)
def start(send_id: int) -> None:
    """Start a due send (freeze content and recipients) and plan its batches."""
    with logs.bound(send=send_id):
        if fanout.start_send(send_id):
            fanout.plan_send(send_id)


@shared_task(name=TaskName.PLAN_SEND)
def plan(send_id: int) -> None:
    """Resume planning a send whose planner lease ran out."""
    with logs.bound(send=send_id):
        if fanout.claim_planner(send_id):
            fanout.plan_send(send_id)


@shared_task(name=TaskName.SEND_BATCH, bind=True, max_retries=None)
def batch(self, batch_id: int, token: int | None = None) -> None:
    """Deliver one batch; deferred (4xx) messages make Celery retry it after a back-off, and
    a batch the database's absence interrupted is retried soon with its lease token."""
    try:
        countdown = batches.run_batch(batch_id, token)
    except batches.Interrupted as stop:
        raise self.retry(args=[batch_id, stop.token], kwargs={}, countdown=stop.countdown) from stop
    if countdown is not None:
        raise self.retry(args=[batch_id], kwargs={}, countdown=countdown)


@shared_task(name=TaskName.SENDING_TICK)
def tick() -> dict[str, int]:
    """Beat: create cron sends, start due sends, re-publish batches whose worker died."""
    return scheduling.tick()


@shared_task(name=TaskName.BRAKE_SEND)
def brake(job_ids: int | list[int]) -> None:
    """Pause each send whose bounces or complaints passed the limits (outbox jobs)."""
    outbox.run_jobs(TaskName.BRAKE_SEND, job_ids, sending_brakes.apply_job)


@signals.worker_ready.connect
def _keep_leases(sender: object, **_: object) -> None:
    """A worker that is ready renews its batches' leases and watches its peers' (`keeper`)."""
    app = getattr(sender.app, "flask_app", None)  # type: ignore[attr-defined]
    if app is not None:
        keeper.start(app)
