"""Read one table of a DuckDB file into pandas, the way the pipeline did (`.df()`) or does (`warehouse.read_frame`,
through Arrow), and print the seconds and the process's peak RSS.

    python benchmarks/read_frame.py --method arrow DATABASE TABLE
    farm-bench --vs "python benchmarks/read_frame.py --method df DATABASE TABLE" \\
        -- python benchmarks/read_frame.py --method arrow DATABASE TABLE

The query is the raw census gate's old one (every column, in delivery order), so a census table shows what the
change is worth; benchmarks/README.md has the figures.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bienestar.warehouse import read_frame  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=["df", "arrow"], required=True,
                        help="df: con.execute(...).df(); arrow: warehouse.read_frame")
    parser.add_argument("database", type=Path)
    parser.add_argument("table", help="e.g. raw.census_persons")
    args = parser.parse_args()
    sql = f"SELECT * FROM {args.table} ORDER BY _row"
    with duckdb.connect(str(args.database), read_only=True) as con:
        started = time.perf_counter()
        frame = con.execute(sql).df() if args.method == "df" else read_frame(con, sql)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"{args.method}: {len(frame):,} rows x {frame.shape[1]} columns in {seconds:.2f} s, "
          f"frame {frame.memory_usage(deep=True).sum() / 1e9:.2f} GB, process peak {peak:.2f} GB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
