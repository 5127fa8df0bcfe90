"""Pseudonymising ids at landing: DuckDB's SQL HMAC (sources.privacy.pseudonymise) against a plain Python loop of
`hmac.digest`, the way it was done before (issue 14), on the same ids.

    farm-bench -n 5 --vs ".venv/bin/python benchmarks/pseudonymise.py --method python" \\
        -- .venv/bin/python benchmarks/pseudonymise.py --method sql

`--ids` distinct ids (default 1,200,000, about the distinct household and person ids of a census year at
`--scale 10`), each repeated `--repeat` times (persons' household ids repeat), shuffled. Prints the seconds of the
pseudonymisation itself; the script checks both methods agree on a sample first.
"""

from __future__ import annotations

import argparse
import hmac
import time

import numpy as np
import pandas as pd

from sources.privacy import pseudonymise

KEY = b"benchmark-key"


def python_loop(values: pd.Series, key: bytes) -> pd.Series:
    """The pre-issue-14 way, kept as the baseline: one Python hmac.digest per distinct id."""
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    texts = [str(v) for v in distinct.tolist()]
    digests = pd.array([hmac.digest(key, t.encode("utf-8"), "sha256").hex()[:20] if t else None for t in texts]
                       + [None], dtype="string")
    return pd.Series(digests[codes], index=values.index, dtype="string", name=values.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=["sql", "python"], required=True)
    parser.add_argument("--ids", type=int, default=1_200_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ids = np.array([f"H{i:09d}" for i in range(args.ids)] * args.repeat, dtype=object)
    values = pd.Series(ids[rng.permutation(len(ids))], dtype="string")
    sample = values.iloc[:1000]
    assert pseudonymise(sample, KEY).equals(python_loop(sample, KEY)), "the two methods disagree"
    method = pseudonymise if args.method == "sql" else python_loop
    started = time.perf_counter()
    method(values, KEY)
    print(f"{args.method}: {args.ids:,} distinct ids x{args.repeat}: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
