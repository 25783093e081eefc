"""Leaving tasks: the preference-link email, and beat's expiry of unconfirmed signups."""

from celery import shared_task

from service import outbox
from service.leaving.expiry import purge_expired_pending
from service.leaving.manage_link import send_manage_link as send_link
from service.task_names import TaskName


@shared_task(name=TaskName.SEND_MANAGE_LINK)
def send_manage_link(job_ids: int | list[int]) -> None:
    """Send the preference-link email of each outbox job in `job_ids`."""
    outbox.run_jobs(TaskName.SEND_MANAGE_LINK, job_ids, send_link, forget_payload=True)


@shared_task(name=TaskName.PURGE_PENDING)
def purge_pending() -> int:
    """Purge pending signups older than `PENDING_EXPIRY_DAYS`; return how many expired."""
    return purge_expired_pending()
