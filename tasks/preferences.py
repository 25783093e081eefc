"""Preference-link email ("manage my subscriptions"), run through the outbox."""

from celery import shared_task

from service import jobs
from service.unsubscribe import send_manage_link_email


@shared_task(name="preferences.send_manage_link")
def send_manage_link(job_ids: int | list[int]) -> None:
    """Send the preference-link email of each outbox job in `job_ids`."""
    jobs.run_jobs(
        job_ids,
        lambda payload: send_manage_link_email(payload["subscriber_id"], payload.get("locale")),
    )
