"""What following requests in the logs costs: microseconds per JSON log line, and per signup
for the request-id middleware (`X-Request-ID` made, bound, echoed, stored with the job).

Run by hand (not in CI), in one run so the machine's noise hits both sides alike:

    .venv/bin/python bench/logs.py [--rounds 15]

Lines: a typical job line formatted and written to memory, `service.logs.JsonFormatter`
against the standard library's `logging.Formatter("%(message)s")` as the floor. Signups:
`POST /api/v1/subscriptions` through the app's test client on SQLite (no worker, jobs left in
the outbox), with the middleware and with it unwrapped, alternating rounds. Medians printed.
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import sys
import tempfile
import time
import timeit
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service import create_app
from service.extensions import db
from service.logs import JsonFormatter, bound
from service.models import Newsletter


def per_line(rounds: int) -> dict[str, float]:
    """Median microseconds per line, ours and the plain floor."""
    handler = logging.StreamHandler(io.StringIO())
    log = logging.getLogger("bench.logs")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)

    def one() -> None:
        log.info("mail.send_confirmation job %s done in %s ms", 12345, 3.1, extra={"job_id": 1})

    times: dict[str, list[float]] = {"json": [], "plain": []}
    with bound(request=uuid.uuid4().hex, send=7):
        for _ in range(rounds):
            for name, formatter in (("json", JsonFormatter()), ("plain", logging.Formatter())):
                handler.setFormatter(formatter)
                times[name].append(timeit.timeit(one, number=5000) / 5000 * 1e6)
    return {name: statistics.median(values) for name, values in times.items()}


def per_signup(rounds: int) -> dict[str, float]:
    """Median microseconds per signup request, with and without the request-id middleware."""
    instance = tempfile.mkdtemp()
    app = create_app(
        {
            "ENV": "test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/bench.db",
            "CELERY_BROKER_URL": "memory://",
            "REDIS_URL": None,
            "RATELIMIT_ENABLED": False,
            "MAIL_URL": "memory://",
            "SECRET_KEYS": ["k" * 32],
            "INSTANCE_PATH": instance,
            "LOG_LEVEL": "WARNING",
            "SIGNUP_MIN_SECONDS": 0,
        }
    )
    with app.app_context():
        db.create_all()
        db.session.add(Newsletter(slug="daily", name="Daily"))
        db.session.commit()
    with_ids = app.wsgi_app
    without_ids = with_ids.app  # the middleware is the outermost wrapper
    client = app.test_client()

    def run(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            body = {"email": f"r{uuid.uuid4().hex[:10]}@gmail.com", "newsletters": "daily"}
            assert client.post("/api/v1/subscriptions", json=body).status_code == 202
        return (time.perf_counter() - started) / count * 1e6

    times: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(rounds):
        for name, wsgi in (("with", with_ids), ("without", without_ids)):
            app.wsgi_app = wsgi
            times[name].append(run(300))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    lines = per_line(rounds)
    print(f"log line: {lines['json']:.1f} us JSON, {lines['plain']:.1f} us plain (floor)")
    signups = per_signup(rounds)
    extra = signups["with"] - signups["without"]
    print(
        f"signup: {signups['with']:.0f} us with request ids, {signups['without']:.0f} us "
        f"without ({extra:+.0f} us, {signups['with'] / signups['without']:.3f}x)"
    )


if __name__ == "__main__":
    main()
