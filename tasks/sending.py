"""Digest sending tasks: thin wrappers over service.sending (ids in, one service call)."""

from celery import shared_task

from service import logs, outbox
from service.sending import batches, fanout, scheduling
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
def batch(self, batch_id: int) -> None:
    """Deliver one batch; deferred (4xx) messages make Celery retry it after a back-off."""
    countdown = batches.run_batch(batch_id)
    if countdown is not None:
        raise self.retry(countdown=countdown)


@shared_task(name=TaskName.SENDING_TICK)
def tick() -> dict[str, int]:
    """Beat: create cron sends, start due sends, re-publish batches whose worker died."""
    return scheduling.tick()


@shared_task(name=TaskName.BRAKE_SEND)
def brake(job_ids: int | list[int]) -> None:
    """Pause each send whose bounces or complaints passed the limits (outbox jobs)."""
    outbox.run_jobs(TaskName.BRAKE_SEND, job_ids, sending_brakes.apply_job)
