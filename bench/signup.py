"""Signup throughput: our `POST /api/v1/subscriptions` against a bare floor app, with wrk.

Run by hand (not in CI): `.venv/bin/python bench/signup.py [--runs 3] [--duration 10]`.
For each backend (SQLite, PostgreSQL on 127.0.0.1:5432 as user postgres) it migrates and
seeds a scratch database, starts a private redis-server (the Celery broker) and gunicorn on
free ports, drives wrk with bench/signup.lua (a unique address per request), then runs the
floor (bench/floor_app.py: Flask + email-validator + one SQLite insert) under the same gunicorn
settings; on PostgreSQL also that floor inserting into PostgreSQL (floor-pg), like for like.
Prints the median of the runs: signups/s, p50/p99 latency, and ours/floor.
A signup request stores one outbox job; no worker runs during the wrk runs, so afterwards the
bench applies the whole backlog the way one worker process does (`apply_signups`, a Celery
message's worth of jobs per transaction) and prints that rate too: the workers must keep up.
Every process it starts is stopped by pid; the scratch PostgreSQL database is dropped.
`--partner-origin` posts as an embed on a partner site would: with an `Origin` that only the
newsletter's own allowlist admits (the floor ignores it).
`--profile 200` instead profiles 200 signups through the test client with cProfile.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.processes import free_port, wait_for_http  # noqa: E402
from tests.support.processes import stop_process as stop  # noqa: E402

VENV = ROOT / ".venv" / "bin"
LUA = ROOT / "bench" / "signup.lua"
PARTNER_SLUG, PARTNER_ORIGIN = "partner", "https://partner.example.org"
PG = ["psql", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-v", "ON_ERROR_STOP=1"]


def production_env(database_url: str, redis_url: str, tmp: Path) -> dict[str, str]:
    """Production settings with the limiter off (the bench is one client) and mail in memory."""
    return {
        "APP_ENV": "production",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        "REDIS_URL": redis_url,
        "RATELIMIT_ENABLED": "false",
        "INSTANCE_PATH": str(tmp),
        "MAIL_URL": "memory://",
        "LOG_LEVEL": "WARNING",
    }


def gunicorn(
    app: str, env: dict[str, str], args: argparse.Namespace
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [str(VENV / "gunicorn"), "-w", str(args.workers), "-k", args.worker_class]
    if args.worker_class == "gthread":
        cmd += ["--threads", str(args.threads)]
    cmd += ["-b", f"127.0.0.1:{port}", "--log-level", "warning", app]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_for_http(base + "/healthz", proc)
    return proc, base


def wrk(base: str, args: argparse.Namespace) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{args.wrk_threads}",
            f"-c{args.connections}",
            f"-d{args.duration}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            base + "/api/v1/subscriptions",
            "--",
            uuid.uuid4().hex[:8],
            *([PARTNER_SLUG, PARTNER_ORIGIN] if args.partner_origin else []),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    requests, duration_us, p50, p99, non2xx, sock_errors, timeouts = map(int, line.split()[1:])
    return {
        "rps": requests / (duration_us / 1e6),
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "non2xx": non2xx,
        "errors": sock_errors + timeouts,
    }


def measure(app: str, env: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    proc, base = gunicorn(app, env, args)
    try:
        runs = []
        for _ in range(args.runs):
            runs.append(wrk(base, args))
        refused = sum(r["non2xx"] for r in runs)
        if refused:  # a bench of error answers measures nothing worth having
            raise SystemExit(f"{app}: {refused:.0f} answers were not 2xx; is the set-up right?")
        median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        median["runs"] = [round(r["rps"]) for r in runs]
        return median
    finally:
        stop(proc)


def newsletter_cmd(env: dict[str, str], *argv: str) -> None:
    subprocess.run(
        [str(VENV / "newsletter"), *argv], cwd=ROOT, env=env, check=True, capture_output=True
    )


def run_backend(backend: str, tmp: Path, redis_url: str, args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    db_name = f"bench_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        database_url = f"sqlite:///{tmp / 'bench.db'}"
    else:
        subprocess.run([*PG, "-c", f"CREATE DATABASE {db_name}"], check=True, capture_output=True)
        database_url = f"postgresql://postgres@127.0.0.1:5432/{db_name}"
    env.update(production_env(database_url, redis_url, tmp), PYTHONPATH=str(ROOT))
    try:
        newsletter_cmd(env, "db", "upgrade", "heads")
        # seed-demo refuses production settings: the bench makes its one newsletter itself.
        newsletter_cmd(env, "newsletters", "create", "daily", "--name", "Daily")
        if args.partner_origin:  # signups come from a site on this newsletter's allowlist only
            partner = ["create", PARTNER_SLUG, "--name", "Partner", "--allowed-origin"]
            newsletter_cmd(env, "newsletters", *partner, PARTNER_ORIGIN)
        ours = measure("service:create_app()", env, args)
        ours["apply"] = apply_backlog(env)
        floor = measure("bench.floor_app:app", dict(env, FLOOR_DB=str(tmp / "floor.db")), args)
        results = {"ours": ours, "floor": floor}
        if backend == "postgresql":  # like for like: the floor's one insert into PostgreSQL
            floor_env = dict(env, FLOOR_DB=database_url)
            results["floor-pg"] = measure("bench.floor_app:app", floor_env, args)
        return results
    finally:
        if backend == "postgresql":
            subprocess.run(
                [*PG, "-c", f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"],
                check=False,
                capture_output=True,
            )


def apply_backlog(env: dict[str, str]) -> dict[str, float]:
    """Apply every stored signup in a process of its own, as one worker would; the rate."""
    out = subprocess.run(
        [str(VENV / "python"), __file__, "--apply-backlog"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.splitlines()[-1])


def _apply_backlog_here() -> None:
    """`--apply-backlog`: apply the pending signup jobs of $DATABASE_URL; print JSON."""
    from sqlalchemy import select

    from service import create_app, outbox
    from service.extensions import db
    from service.models import JobStatus, OutboxJob
    from service.signup.apply import apply_signups
    from service.task_names import TaskName

    app = create_app()
    with app.app_context():
        pending = select(OutboxJob.id).where(
            OutboxJob.task == TaskName.APPLY_SIGNUPS, OutboxJob.status == JobStatus.PENDING
        )
        ids = list(db.session.scalars(pending.order_by(OutboxJob.id)))
        db.session.remove()
        started, cpu = time.perf_counter(), time.process_time()
        applied = 0
        for start in range(0, len(ids), outbox.JOBS_PER_MESSAGE):
            applied += apply_signups(ids[start : start + outbox.JOBS_PER_MESSAGE])
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        json.dumps(
            {"applied": applied, "per_second": applied / wall, "cpu_ms": cpu / applied * 1000}
        )
    )


def profile(requests: int, tmp: Path, redis_url: str) -> None:
    """cProfile `requests` signups through the test client (SQLite, Redis broker)."""
    import cProfile
    import pstats

    os.environ.update(production_env(f"sqlite:///{tmp / 'profile.db'}", redis_url, tmp))
    from flask_migrate import upgrade

    from service import create_app, outbox
    from service.seed import seed_demo

    app = create_app()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"), revision="heads")
        seed_demo()
    client = app.test_client()

    def signup() -> None:
        email = f"profile-{uuid.uuid4().hex}@kyivindependent.com"
        response = client.post(
            "/api/v1/subscriptions", json={"email": email, "newsletters": "daily"}
        )
        assert response.status_code == 202, response.data

    for _ in range(20):
        signup()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        signup()
    outbox.wait_for_publish()  # the publishing thread's work counts too
    wall = (time.perf_counter() - started) / requests * 1000
    cpu = (time.process_time() - cpu) / requests * 1000
    print(f"{wall:.2f} ms per signup, {cpu:.2f} ms of CPU (whole process), unprofiled")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        signup()
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(
        r"service/|celery/app/base|kombu/messaging|email_validator/validate|commit", 30
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--worker-class",
        default="gunicorn_web.SlowClientWorker",
        help="the Procfile's (gevent with read deadlines); sync or gthread to compare",
    )
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument(
        "--partner-origin",
        action="store_true",
        help="post with an Origin that only a newsletter's own allowlist admits (as an embed)",
    )
    parser.add_argument("--profile", type=int, default=0, help="cProfile N signups instead")
    parser.add_argument("--apply-backlog", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.apply_backlog:
        _apply_backlog_here()
        return
    if not args.profile and shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (or use --profile N)")

    with tempfile.TemporaryDirectory(prefix="bench-signup-") as tmpdir:
        tmp = Path(tmpdir)
        redis_port = free_port()
        redis_cmd = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"]
        redis = subprocess.Popen(
            [*redis_cmd, "--save", "", "--appendonly", "no", "--dir", tmpdir],
            stdout=subprocess.DEVNULL,
        )
        try:
            if args.profile:
                profile(args.profile, tmp, f"redis://127.0.0.1:{redis_port}/0")
                return
            results = {}
            for backend in args.backends.split(","):
                results[backend] = run_backend(
                    backend, tmp, f"redis://127.0.0.1:{redis_port}/0", args
                )
        finally:
            stop(redis)

    settings = f"gunicorn -w {args.workers} -k {args.worker_class}"
    if args.worker_class == "gthread":
        settings += f" --threads {args.threads}"
    print(
        f"\n{settings}; wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s; "
        f"median of {args.runs} runs; {os.cpu_count()} CPUs"
    )
    print(f"{'backend':<11} {'app':<8} {'signups/s':>10} {'p50 ms':>8} {'p99 ms':>8} non2xx  runs")
    for backend, pair in results.items():
        for name, r in pair.items():
            print(
                f"{backend:<11} {name:<8} {r['rps']:>10.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}"
                f" {r['non2xx']:>6.0f}  {r['runs']}"
            )
        ratio = pair["ours"]["rps"] / pair["floor"]["rps"]
        print(f"{backend:<11} ours/floor = {ratio:.2f}")
        if "floor-pg" in pair:
            ratio = pair["ours"]["rps"] / pair["floor-pg"]["rps"]
            print(
                f"{backend:<11} ours/floor-pg = {ratio:.2f} (the floor inserting into PostgreSQL)"
            )
        apply = pair["ours"]["apply"]
        print(
            f"{backend:<11} then one worker process applied the {apply['applied']} stored signups:"
            f" {apply['per_second']:.0f}/s, {apply['cpu_ms']:.2f} ms CPU each"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
