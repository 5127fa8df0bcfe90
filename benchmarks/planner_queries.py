"""How fast planners' queries answer on a published snapshot (issue: v_indicator_wide under 100 ms at --scale 10).

    .venv/bin/python benchmarks/planner_queries.py [SNAPSHOT]     # default: var/published/la_paz_demo/current.duckdb

Opens the snapshot read-only, as a planner would, and times (best of 5, each on a fresh connection so nothing is
cached between runs) the views over every zone and period, and the ten cookbook questions (bienestar/cookbook.py).
The marts hold one row per area, indicator and period: `--scale` multiplies households and records, not areas, so
the snapshot of `bienestar demo --scale 10` has the same rows as `--scale 1`; the script prints the row counts it
read so the figure can be checked against the size that matters.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_MS = 100

QUERIES = {
    "v_indicator_wide, every zone and period": "SELECT * FROM marts.v_indicator_wide WHERE level = 'zona'",
    "v_indicator_wide, every area and period": "SELECT * FROM marts.v_indicator_wide",
    "v_index, every area and period": "SELECT * FROM marts.v_index",
    "v_area, every area": "SELECT * FROM marts.v_area",
    "v_change, every area": "SELECT * FROM marts.v_change",
}


def best_of(snapshot: Path, sql: str, repeat: int = 5) -> tuple[float, int]:
    import duckdb

    times, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        with duckdb.connect(str(snapshot), read_only=True) as con:
            rows = len(con.execute(sql).fetchall())
        times.append(time.perf_counter() - started)
    return min(times) * 1000, rows


def main(argv: list[str] | None = None) -> int:
    import duckdb

    from bienestar import cookbook, settings

    args = sys.argv[1:] if argv is None else argv
    snapshot = Path(args[0]) if args else settings.paths().current_snapshot_for("la_paz_demo")
    if not snapshot.exists():
        print(f"no snapshot at {snapshot}: run make demo (or bienestar demo --scale 10) first", file=sys.stderr)
        return 2
    with duckdb.connect(str(snapshot), read_only=True) as con:
        values = con.execute("SELECT count(*) FROM marts.indicator_values").fetchall()[0][0]
        households = con.execute("SELECT coalesce(sum(rows), 0) FROM marts.sources "
                                 "WHERE source LIKE 'census/households%'").fetchall()[0][0]
    print(f"{snapshot}: {values:,} indicator values, built from {households:,} census households")
    print(f"{'query':<44} {'rows':>8} {'best of 5':>10}")
    slowest = 0.0
    for name, sql in [*QUERIES.items(), *((f"cookbook {n}", q[2]) for n, q in enumerate(cookbook.QUESTIONS, 1))]:
        ms, rows = best_of(snapshot, sql)
        slowest = max(slowest, ms) if name.startswith("v_indicator_wide") else slowest
        print(f"{name:<44} {rows:>8,} {ms:>8.1f} ms")
    verdict = "met" if slowest < TARGET_MS else "NOT met"
    print(f"v_indicator_wide: {slowest:.1f} ms (target < {TARGET_MS} ms: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
