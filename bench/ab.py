"""Before and after in one run: a bench of this checkout against the same bench of another.

Run by hand: first a checkout of the commit to compare with, installed beside this one,
    git worktree add ../base REV && make -C ../base install
then, for example,
    .venv/bin/python bench/ab.py ../base --rounds 3 -- signup.py --runs 1 --duration 8
    .venv/bin/python bench/ab.py ../base --rounds 3 -- send.py --n 20000
Each round runs the base's bench (its own venv and code) and then this checkout's, so both
meet the same machine; the figures are the medians over the rounds, and `after/before` their
ratio (above 1 is faster for rates, slower for costs). The metrics are read from the benches'
own printed lines (`signup.py`: signups/s per backend and app, the worker's apply rate;
`send.py`: emails/s and worker CPU per email).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

# (pattern, names of the metrics it gives) for each bench's printed result lines.
METRICS = {
    "signup.py": [
        (
            re.compile(r"^(\w+)\s+(ours|floor|floor-pg)\s+(\d+)\s", re.M),
            lambda m: {f"{m[1]} {m[2]} signups/s": float(m[3])},
        ),
        (
            re.compile(r"^(\w+)\s+then one worker process applied .*?: (\d+)/s", re.M),
            lambda m: {f"{m[1]} worker applies/s": float(m[2])},
        ),
    ],
    "send.py": [
        (
            re.compile(r"^N=\s*(\d+): \w+ .*?= (\d+) emails/s.*?workers (\d+) us", re.M),
            lambda m: {
                f"N={m[1]} emails/s": float(m[2]),
                f"N={m[1]} worker CPU us/email": float(m[3]),
            },
        ),
    ],
}


def run_bench(checkout: Path, script: str, argv: list[str]) -> dict[str, float]:
    """One run of `bench/<script>` in `checkout`, with that checkout's venv; its metrics."""
    python = checkout / ".venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), str(checkout / "bench" / script), *argv],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"{checkout}: bench/{script} failed (exit {done.returncode})")
    found: dict[str, float] = {}
    for pattern, names in METRICS[script]:
        for match in pattern.finditer(done.stdout):
            found.update(names(match))
    if not found:
        sys.stderr.write(done.stdout)
        raise SystemExit(f"{checkout}: no figures found in bench/{script}'s output")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="the other checkout, with its own .venv")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("bench", choices=sorted(METRICS), help="the bench script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments (after --)")
    args = parser.parse_args()
    argv = [a for a in args.args if a != "--"]
    before, after = defaultdict(list), defaultdict(list)
    for round_ in range(1, args.rounds + 1):
        for checkout, figures in ((args.base.resolve(), before), (HERE, after)):
            for name, value in run_bench(checkout, args.bench, argv).items():
                figures[name].append(value)
        print(f"round {round_}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"bench/{args.bench} {' '.join(argv)}; median of {args.rounds} alternating rounds")
    print(f"{'metric':<34} {'before':>10} {'after':>10} {'after/before':>13}  each round")
    for name in after:
        b, a = statistics.median(before[name]), statistics.median(after[name])
        rounds = " ".join(
            f"{x:.0f}/{y:.0f}" for x, y in zip(before[name], after[name], strict=True)
        )
        print(f"{name:<34} {b:>10.1f} {a:>10.1f} {a / b:>13.2f}  {rounds}")


if __name__ == "__main__":
    main()
