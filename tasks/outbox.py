"""The outbox relay: hands jobs that missed the broker over to it (run by beat)."""

import logging

from celery import shared_task

from service import jobs

log = logging.getLogger(__name__)


@shared_task(name="outbox.relay")
def relay() -> int:
    """Hand due outbox jobs to the broker; return how many were handed over (logged if any)."""
    handed = jobs.relay_due()
    if handed:
        log.info("outbox relay handed %s job(s) over to the broker", handed)
    return handed
