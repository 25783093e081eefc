"""Digest sending tasks: thin wrappers over service.sending (ids in, one service call)."""

from celery import shared_task

from service.sending import delivery, fanout, scheduling


@shared_task(name="sending.start")
def start(send_id: int) -> None:
    """Start a due send (freeze content and recipients) and plan its batches."""
    if fanout.start_send(send_id):
        fanout.plan_send(send_id)


@shared_task(name="sending.plan")
def plan(send_id: int) -> None:
    """Resume planning a send whose planner lease ran out."""
    if fanout.claim_planner(send_id):
        fanout.plan_send(send_id)


@shared_task(name="sending.batch", bind=True, max_retries=None)
def batch(self, batch_id: int) -> None:
    """Deliver one batch; deferred (4xx) messages make Celery retry it after a back-off."""
    countdown = delivery.run_batch(batch_id)
    if countdown is not None:
        raise self.retry(countdown=countdown)


@shared_task(name="sending.tick")
def tick() -> dict[str, int]:
    """Beat: create cron sends, start due sends, re-dispatch batches whose worker died."""
    return scheduling.tick()
