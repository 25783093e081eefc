"""Signup tasks: apply the signups the web stored as outbox jobs."""

from celery import shared_task

from service.subscriptions import apply_signups


@shared_task(name="signups.apply")
def apply(job_ids: int | list[int]) -> int:
    """Apply the signups of these outbox jobs (one transaction); how many it applied."""
    return apply_signups(job_ids)
