"""The outbox relay: hands jobs that missed the broker over to it (run by beat)."""

from celery import shared_task

from service import jobs


@shared_task(name="outbox.relay")
def relay() -> int:
    """Hand due outbox jobs to the broker; return how many were handed over."""
    return jobs.relay_due()
