"""The outbox's retry signal: work that cannot be done now, but may be later, says so.

Any job's work raises `RetryLater` (or a subclass: mail's temporary errors are one) and the
runner makes the job pending again; the work never needs to know how jobs are stored.
"""

from __future__ import annotations


class RetryLater(Exception):
    """Try this job again later: after `after` seconds, or the runner's own back-off if None.

    A job that names its own delay keeps its own count of tries and stops raising this when it
    gives up; one that leaves the delay to the runner fails after the runner's `MAX_ATTEMPTS`.
    """

    after: float | None = None

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after
