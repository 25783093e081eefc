"""Digest send throughput: emails/s end to end and peak RSS, against the raw SMTP limit.

Run by hand (not in CI), as root (smtp-sink drops privileges with `-u nobody`):

    .venv/bin/python bench/send.py --n 20000 100000            # into Postfix's smtp-sink
    .venv/bin/python bench/send.py --n 20000 --slow 0.010 --concurrency 32   # slow relay
    .venv/bin/python bench/send.py --n 20000 --slow 0.010 --slow-latency ...  # 10 ms away
    .venv/bin/python bench/send.py --n 5000 --slow 0.010 --dkim both   # signed against unsigned

For each N it makes a scratch database (SQLite, or `--postgres` on 127.0.0.1:5432 as user
postgres) with N confirmed subscribers, starts a private redis-server (broker and rate-limit
store), the sink, and `--workers` Celery worker processes (threads pool, `--concurrency`
threads each, so that many SMTP connections per process), sends one digest and waits for
`sent`. It prints emails/s (ledger-confirmed sends over the send's started..finished time),
each worker's peak RSS (VmHWM), and in the same run the raw limit: `--workers` processes each
pushing one prebuilt message of the same size over `--concurrency` persistent smtplib
connections into the same sink. Every process it starts is stopped by pid. `--dkim on` sends
DKIM-signed from VERP addresses (`bench/dkim_cost.py`: fresh keys, `BOUNCE_DOMAIN`), `both`
sends each N unsigned then signed and prints their ratio; either also prints the signing
cost per reader against one RSA-2048 signature measured in the same run. On a shared,
busy machine the rates are noisy; the CPU time the workers spent per email (against the raw
pushers' CPU per email) is the steadier figure.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.dkim_cost import dkim_env, report, signing_cost  # noqa: E402
from tests.support.processes import free_port  # noqa: E402
from tests.support.processes import stop_process as stop  # noqa: E402
from tests.support.processes import wait_for_port as wait_port  # noqa: E402

VENV = ROOT / ".venv" / "bin"
SMTP_SINK = "/usr/sbin/smtp-sink"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DKIM_RUNS = {"off": (False,), "on": (True,), "both": (False, True)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_sink(
    port: int, slow: float | None, max_connections: int, latency: bool = False
) -> subprocess.Popen:
    if slow:
        cmd = [
            str(VENV / "python"),
            str(ROOT / "bench" / "slow_smtp.py"),
            "--port",
            str(port),
            "--delay",
            str(slow),
            "--max-connections",
            str(max_connections),
            *(["--latency"] if latency else []),
        ]
    else:
        if not Path(SMTP_SINK).exists():
            raise SystemExit(f"{SMTP_SINK} is missing: apt-get install postfix (or use --slow)")
        cmd = [SMTP_SINK, "-u", "nobody", f"127.0.0.1:{port}", str(max_connections)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


def scratch_database(tmp: Path, postgres: bool) -> tuple[str, str | None]:
    if not postgres:
        return f"sqlite:///{tmp / 'bench.db'}", None
    import psycopg

    name = f"nl_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}", name


def drop_database(name: str | None) -> None:
    if name:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(app, n: int) -> int:
    """N confirmed subscribers of a fresh newsletter, plus one new article; the newsletter id."""
    from sqlalchemy import insert, select

    from service.extensions import db
    from service.models import Article, Newsletter, Subscriber, Subscription, utcnow

    with app.app_context():
        news = Newsletter(slug="bench", name="Ukraine Daily")
        db.session.add(news)
        db.session.add(
            Article(
                url="https://news.example.org/a",
                title="A story",
                summary_text="What happened today. " * 10,
            )
        )
        db.session.commit()
        now = utcnow()
        for start in range(0, n, 10000):
            db.session.execute(
                insert(Subscriber),
                [
                    {
                        "email": f"r{i}@news-bench.org",
                        "email_ascii": f"r{i}@news-bench.org",
                        "email_key": f"r{i}@news-bench.org",
                        "smtputf8": False,
                        "locale": "en",
                        "state_version": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(start, min(n, start + 10000))
                ],
            )
        ids = db.session.scalars(select(Subscriber.id).order_by(Subscriber.id)).all()
        for start in range(0, n, 10000):
            db.session.execute(
                insert(Subscription),
                [
                    {
                        "subscriber_id": i,
                        "newsletter_id": news.id,
                        "status": "confirmed",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids[start : start + 10000]
                ],
            )
        db.session.commit()
        return news.id


def start_worker(env: dict, index: int, concurrency: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(VENV / "celery"),
            "-A",
            "tasks.worker",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "info",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"bench{index}-{uuid.uuid4().hex[:6]}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while b" ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(log.read_text()[-2000:])
        time.sleep(0.1)
    return proc


def _push(port: int, message: bytes, seconds: float, connections: int, out) -> None:
    """One raw process: `connections` persistent smtplib connections pushing `message`."""
    counts = [0] * connections

    def run(k: int) -> None:
        conn = smtplib.SMTP("127.0.0.1", port)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            conn.sendmail("newsletter@news-bench.org", [f"raw{k}@news-bench.org"], message)
            counts[k] += 1
        conn.quit()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(connections)]
    cpu = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((sum(counts), time.process_time() - cpu))


def raw_limit(
    port: int, message: bytes, procs: int, connections: int, seconds: float
) -> tuple[float, float]:
    """Messages/s of `procs` processes pushing prebuilt bytes over persistent connections,
    and their CPU seconds per message."""
    queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_push, args=(port, message, seconds, connections, queue))
        for _ in range(procs)
    ]
    for proc in workers:
        proc.start()
    results = [queue.get() for _ in workers]
    for proc in workers:
        proc.join()
    total = sum(count for count, _ in results)
    return total / seconds, sum(cpu for _, cpu in results) / max(1, total)


def sample_message(app, send_id: int) -> bytes:
    from service.sending import batches, personalize

    with app.app_context():
        template = batches._template(send_id)
        return personalize.personalize(
            template,
            send_id,
            personalize.Recipient(1, "r1@news-bench.org", None, False, "x" * 90, "y" * 60),
        )


def run_once(n: int, args, signed: bool = False) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="nl-bench-send-"))
    redis_port, sink_port = free_port(), free_port()
    procs: list[subprocess.Popen] = []
    database, pg_name = scratch_database(tmp, args.postgres)
    try:
        procs.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
            )
        )
        wait_port(redis_port)
        max_conn = max(1000, 4 * args.workers * args.connections)
        procs.append(start_sink(sink_port, args.slow, max_conn, args.slow_latency))
        env = {
            **os.environ,
            "APP_ENV": "test",
            "DATABASE_URL": database,
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/1",
            "MAIL_URL": f"smtp://127.0.0.1:{sink_port}",
            "SECRET_KEY": "bench-secret",
            "INSTANCE_PATH": str(tmp),
            "PUBLIC_URL": "https://news.example.org",
            "MAIL_FROM": "newsletter@news-bench.org",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            "SEND_BATCH_SIZE": str(args.batch_size),
            "SEND_CONNECTIONS": str(args.connections),
            **(dkim_env(tmp) if signed else {}),
        }
        os.environ.update(env)
        from flask_migrate import upgrade

        from service import create_app

        app = create_app()
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"), revision="heads")
        newsletter_id = seed(app, n)
        workers = [
            start_worker(env, k, args.concurrency, tmp / f"worker{k}.log")
            for k in range(args.workers)
        ]
        procs.extend(workers)

        from service.extensions import db
        from service.models import Newsletter, Send
        from service.sending import scheduling

        cpu_before = sum(cpu_seconds(w.pid) for w in workers)
        with app.app_context():
            send_id = scheduling.create_send(db.session.get(Newsletter, newsletter_id)).id
            while True:
                send = db.session.get(Send, send_id, populate_existing=True)
                db.session.commit()
                if send.status not in ("scheduled", "sending"):
                    break
                time.sleep(0.2)
            seconds = (send.finished_at - send.started_at).total_seconds()
            result = {
                "n": n,
                "status": send.status,
                "sent": send.sent,
                "failed": send.failed,
                "seconds": seconds,
                "rate": send.sent / seconds,
                "rss": [peak_rss_mib(w.pid) for w in workers],
                "cpu": (sum(cpu_seconds(w.pid) for w in workers) - cpu_before) / max(1, send.sent),
            }
        if signed:
            result["signing"] = report(signing_cost(app))
        message = sample_message(app, send_id)
        for worker in workers:
            stop(worker)
        result["size"] = len(message)
        raw_conns = args.connections if args.slow else 1
        result["raw"], result["raw_cpu"] = raw_limit(
            sink_port, message, args.workers, raw_conns, args.raw_seconds
        )
        return result
    finally:
        for proc in reversed(procs):
            stop(proc)
        drop_database(pg_name)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--n", type=int, nargs="+", default=[20000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=300)
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections per worker")
    parser.add_argument("--slow", type=float, default=None, help="slow sink delay in seconds")
    parser.add_argument(
        "--slow-latency",
        action="store_true",
        help="the slow sink answers pipelined commands together (a relay a round trip away)",
    )
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--raw-seconds", type=float, default=5.0)
    parser.add_argument("--dkim", choices=sorted(DKIM_RUNS), default="off")
    args = parser.parse_args()
    rates: dict[int, float] = {}
    mode = "round trip" if args.slow_latency else "reply"
    sink = f"slow sink ({args.slow * 1000:.0f} ms/{mode})" if args.slow else "smtp-sink"
    print(
        f"{sink}, {'PostgreSQL' if args.postgres else 'SQLite'}, {args.workers} worker "
        f"processes x {args.concurrency} threads, batches of {args.batch_size}"
    )
    for n, signed in ((n, s) for n in args.n for s in DKIM_RUNS[args.dkim]):
        r = run_once(n, args, signed)
        print(
            ("signed " if signed else "unsigned " if args.dkim == "both" else "")
            + f"N={r['n']:>7}: {r['status']} sent={r['sent']} failed={r['failed']} in "
            f"{r['seconds']:.1f}s = {r['rate']:.0f} emails/s; raw limit {r['raw']:.0f}/s "
            f"({r['rate'] / r['raw']:.0%}); message {r['size']} bytes; worker peak RSS "
            + ", ".join(f"{x:.0f} MiB" for x in r["rss"])
            + f"; CPU per email: workers {r['cpu'] * 1e6:.0f} us, raw {r['raw_cpu'] * 1e6:.0f} us",
            flush=True,
        )
        if not signed:
            rates[n] = r["rate"]
            continue
        print(r["signing"], flush=True)
        if rates.get(n):
            print(f"N={n:>7}: signed/unsigned emails/s {r['rate'] / rates[n]:.2f}", flush=True)


if __name__ == "__main__":
    main()
