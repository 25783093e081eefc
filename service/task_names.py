"""Every Celery task's name, in one table.

The `tasks/` decorators register under these names, the beat schedule runs them, and the
services publish by them (through `service.outbox`), so a name is spelled once. A name is
also what a message on the broker carries: renaming one strands the messages already queued.
"""

from __future__ import annotations

from typing import Final


class TaskName:
    """The name of each Celery task (plain strings, as the broker carries them)."""

    # Outbox jobs: the row is written first, the message only points at it.
    APPLY_SIGNUPS: Final = "signups.apply"
    SEND_CONFIRMATION: Final = "mail.send_confirmation"
    SEND_MANAGE_LINK: Final = "preferences.send_manage_link"
    SEND_TEST_DIGEST: Final = "digests.send_test"
    DELIVER_WEBHOOK: Final = "webhooks.deliver"
    SEND_STAFF_INVITE: Final = "staff.send_invite"
    RUN_IMPORT: Final = "lists.run_import"
    # Digest sending: the send and its batches are rows of their own, the watchdog re-publishes.
    START_SEND: Final = "sending.start"
    PLAN_SEND: Final = "sending.plan"
    SEND_BATCH: Final = "sending.batch"
    BRAKE_SEND: Final = "sending.brake"  # an outbox job: feedback says the send must pause
    # Periodic work, run by beat.
    SENDING_TICK: Final = "sending.tick"
    SWEEP_OUTBOX: Final = "outbox.sweep"
    POLL_FEEDS: Final = "feeds.poll"
    PURGE_PENDING: Final = "maintenance.purge_expired_pending"
