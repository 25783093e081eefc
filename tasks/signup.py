"""Signup tasks: apply the signups the web stored, send their confirmation emails."""

from celery import shared_task

from service import outbox
from service.signup.apply import apply_signups
from service.signup.confirm import send_confirmation_email
from service.task_names import TaskName


@shared_task(name=TaskName.APPLY_SIGNUPS)
def apply(job_ids: int | list[int]) -> int:
    """Apply the signups of these outbox jobs (one transaction); how many it applied."""
    return apply_signups(job_ids)


@shared_task(name=TaskName.SEND_CONFIRMATION)
def send_confirmation(job_ids: int | list[int]) -> None:
    """Send the confirmation email of each outbox job in `job_ids`."""
    outbox.run_jobs(
        TaskName.SEND_CONFIRMATION,
        job_ids,
        lambda payload: send_confirmation_email(payload["subscriber_id"]),
    )
