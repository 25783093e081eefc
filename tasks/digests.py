"""Digest tasks: poll the newsletters' feeds (beat), mail a test of a digest (outbox job)."""

from contextlib import suppress

from celery import shared_task

from service import outbox
from service.digests.compose import NothingToSend, send_test_digest
from service.digests.feeds import poll_newsletter_feeds
from service.task_names import TaskName


@shared_task(name=TaskName.POLL_FEEDS)
def poll_feeds() -> dict[str, str]:
    """Poll each configured feed with ETag / Last-Modified; return the outcome per URL."""
    return poll_newsletter_feeds()


def _send_test(payload: dict) -> None:
    # NothingToSend: the articles went stale between the request and now; nothing to test.
    with suppress(NothingToSend):
        send_test_digest(
            payload["newsletter_id"], payload["email"], locale=payload.get("locale", "en")
        )


@shared_task(name=TaskName.SEND_TEST_DIGEST)
def send_test(job_ids: int | list[int]) -> None:
    """Mail the test digest of each outbox job in `job_ids`."""
    outbox.run_jobs(TaskName.SEND_TEST_DIGEST, job_ids, _send_test)
