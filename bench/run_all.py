"""`make bench`: every benchmark in bench/, one after another, then all their goals.

Each bench_*.py runs as its own process (as a developer runs it), with BENCH_GOALS_FILE
naming a file it appends its goals to (bench/_support.py, goals()). At the end the goals
of every benchmark are printed in one table, each "met" or "MISSED", and every
correctness check (exactly once, counts agreeing with the sandbox) "ok" or "FAILED".

Exit status: 0 when every benchmark ran to the end, every check is ok and every goal is
met; 1 otherwise (the table says which).

    .venv/bin/python bench/run_all.py                 # what make bench runs
    .venv/bin/python bench/run_all.py pages growth    # only bench_pages.py, bench_growth.py
    .venv/bin/python bench/run_all.py --quick         # every benchmark's --quick
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _support as bs  # noqa: E402


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    scripts = sorted(HERE.glob("bench_*.py"))
    if args:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args]
        unknown = set(args) - {s.stem.removeprefix("bench_") for s in scripts}
        if unknown:
            print(f"No benchmark called {', '.join(sorted(unknown))} in bench/.", file=sys.stderr)
            return 2
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", prefix="bench-goals-") as goals_file:
        failed_runs = []
        started = time.monotonic()
        for script in scripts:
            bs.step(f"running {script.name} {' '.join(flags)}".rstrip())
            env = {**os.environ, bs.GOALS_FILE_ENV: goals_file.name}
            code = subprocess.call([sys.executable, str(script), *flags], env=env)
            if code:
                failed_runs.append(f"{script.name} exited {code}")
        rows = [json.loads(line) for line in Path(goals_file.name).read_text().splitlines()]
    table = [
        {
            "benchmark": r["bench"],
            "goal": r["goal"],
            "target": r["target"],
            "measured": r["measured"],
            "met": bs.verdict(r),
        }
        for r in rows
    ]
    bs.print_table(table, title="All goals (make bench)")
    missed = [r for r in rows if not r["met"]]
    print(
        f"\n  {len(rows) - len(missed)} of {len(rows)} met or ok, in {time.monotonic() - started:.0f} s."
    )
    for line in failed_runs:
        print(f"  {line}")
    return 1 if missed or failed_runs or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
