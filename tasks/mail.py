"""Transactional email tasks (run through the outbox)."""

from celery import shared_task

from service import jobs
from service.subscriptions import send_confirmation_email


@shared_task(name="mail.send_confirmation")
def send_confirmation(job_ids: int | list[int]) -> None:
    """Send the confirmation email of each outbox job in `job_ids`."""
    jobs.run_jobs(job_ids, lambda payload: send_confirmation_email(payload["subscriber_id"]))
