"""gunicorn settings of the Procfile's `web` process (`--config gunicorn_web.py`).

Without `REDIS_URL` (the embedded default) the rate limits count in a process's memory, so
the web runs as one process with `WEB_THREADS` threads (default 8): the limits then hold for
the whole web. With `REDIS_URL` the counters are shared in Redis and `WEB_CONCURRENCY`
processes (default 2) run side by side.
"""

import os
from pathlib import Path

from dotenv import load_dotenv

load_dotenv(Path(__file__).resolve().parent / ".env", override=False)  # as service.config does
shared_counters = bool(os.environ.get("REDIS_URL"))
asked_for = int(os.environ.get("WEB_CONCURRENCY") or 2)

if shared_counters:
    workers = asked_for
else:
    workers = 1
    threads = int(os.environ.get("WEB_THREADS") or 8)


def when_ready(server):
    """Say why one process runs when more were asked for."""
    if not shared_counters and asked_for > 1 and os.environ.get("WEB_CONCURRENCY"):
        server.log.warning(
            "REDIS_URL is unset: running one web process with %s threads so the rate limits "
            "hold (WEB_CONCURRENCY=%s needs REDIS_URL for shared counters)",
            threads,
            asked_for,
        )
