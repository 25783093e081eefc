"""The outbox sweep: beat publishes the jobs whose message was lost or never sent."""

import logging

from celery import shared_task

from service import outbox
from service.task_names import TaskName

log = logging.getLogger(__name__)


@shared_task(name=TaskName.SWEEP_OUTBOX)
def sweep() -> int:
    """Publish due outbox jobs; how many were published (logged only if any)."""
    published = outbox.sweep()
    if published:
        log.info("outbox sweep published %s job(s)", published)
    return published
