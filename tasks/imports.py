"""List tasks: run a CSV list uploaded over the API."""

from celery import shared_task

from service import outbox
from service.lists.uploads import run_upload
from service.task_names import TaskName


@shared_task(name=TaskName.RUN_IMPORT)
def run_import(job_ids: int | list[int]) -> None:
    """Run the uploaded import of each outbox job in `job_ids`."""
    outbox.run_jobs(TaskName.RUN_IMPORT, job_ids, lambda payload: run_upload(payload["import_id"]))
