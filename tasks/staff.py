"""Staff tasks: the console's invitation emails."""

from celery import shared_task

from service import outbox
from service.staff.invites import send_invite as send_one
from service.task_names import TaskName


@shared_task(name=TaskName.SEND_STAFF_INVITE)
def send_invite(job_ids: int | list[int]) -> None:
    """Send the invitation email of each outbox job in `job_ids`."""
    outbox.run_jobs(TaskName.SEND_STAFF_INVITE, job_ids, send_one)
