"""Webhook tasks: deliver each queued event to its endpoint (outbox jobs, retried by the runner)."""

from celery import shared_task

from service import outbox
from service.task_names import TaskName
from service.webhooks.delivery import deliver as deliver_event


@shared_task(name=TaskName.DELIVER_WEBHOOK)
def deliver(job_ids: int | list[int]) -> None:
    """Deliver the event of each outbox job in `job_ids` to its endpoint."""
    outbox.run_jobs(TaskName.DELIVER_WEBHOOK, job_ids, deliver_event)
