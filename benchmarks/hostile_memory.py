"""Peak memory and time of every hostile-input case (hardening issue: none hangs, none exceeds 1 GB).

    .venv/bin/python benchmarks/hostile_memory.py [--limit-mb 1024] [tests/test_hostile.py ...]

Each test of the hostile corpus (tests/test_hostile.py, test_boundaries.py, test_raw_accepted.py,
test_distribution.py and the bounded-I/O cases of test_http.py and test_ckan.py, real HTTP servers on 127.0.0.1)
runs alone in a fresh Python process; the process's peak resident memory (ru_maxrss from wait4, the test's
server threads included) and wall time are printed, the largest first, with what the interpreter and the
imports alone take as the floor. Exits 1 when a case exceeds the limit or fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ["tests/test_hostile.py", "tests/test_boundaries.py", "tests/test_raw_accepted.py",
          "tests/test_distribution.py", "tests/test_http.py", "tests/test_ckan.py"]


def run_measured(argv: list[str]) -> tuple[int, float, float]:
    """(exit code, peak RSS in MB, seconds) of a child process."""
    started = time.monotonic()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, usage.ru_maxrss / 1024, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", default=CORPUS, help="test files of the corpus (default: all above)")
    parser.add_argument("--limit-mb", type=float, default=1024, help="the ceiling a case must stay under (MB)")
    args = parser.parse_args(argv)
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
              "-m", "not e2e and not scheduler"]
    listed = subprocess.run([*pytest, "--collect-only", *args.files], cwd=ROOT, capture_output=True, text=True)
    cases = [line for line in listed.stdout.splitlines() if "::" in line]
    if not cases:
        print(listed.stdout + listed.stderr, file=sys.stderr)
        return 2
    _, floor, floor_seconds = run_measured([*pytest, "--collect-only", *args.files])
    print(f"{len(cases)} hostile cases, each in its own process; floor (interpreter, imports, collection): "
          f"{floor:.0f} MB, {floor_seconds:.1f} s", flush=True)
    rows = []
    for n, case in enumerate(cases, start=1):
        code, peak, seconds = run_measured([*pytest, case])
        rows.append((peak, seconds, code, case))
        print(f"\r{n}/{len(cases)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    rows.sort(reverse=True)
    print(f"{'peak MB':>8} {'seconds':>8} {'verdict':>8}  case")
    for peak, seconds, code, case in rows[:15]:
        print(f"{peak:>8.0f} {seconds:>8.1f} {'ok' if code == 0 else 'FAILED':>8}  {case}")
    if len(rows) > 15:
        print(f"... and {len(rows) - 15} more under {rows[15][0]:.0f} MB")
    over = [r for r in rows if r[0] > args.limit_mb]
    failed = [r for r in rows if r[2] != 0]
    slowest = max(rows, key=lambda r: r[1])
    print(f"largest {rows[0][0]:.0f} MB (limit {args.limit_mb:.0f} MB), slowest {slowest[1]:.1f} s; "
          f"{len(over)} over the limit, {len(failed)} failed")
    return 1 if over or failed else 0


if __name__ == "__main__":
    sys.exit(main())
