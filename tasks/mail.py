"""Transactional email tasks (run through the outbox)."""

from celery import shared_task

from service import jobs
from service.subscriptions import send_confirmation_email


@shared_task(name="mail.send_confirmation")
def send_confirmation(job_id: int) -> None:
    """Send the confirmation email of outbox job `job_id`."""
    jobs.run_job(job_id, lambda payload: send_confirmation_email(payload["subscriber_id"]))
