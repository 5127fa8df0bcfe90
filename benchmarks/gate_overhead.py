"""How much the quality gates add to the wall time of the demo pipeline (issue 5 target: under 30%).

    .venv/bin/python benchmarks/gate_overhead.py [--scale 1.0]

Runs the whole demo pipeline through Airflow (`dag.test()`, as `make demo` does) in a fresh BIENESTAR_HOME, then
adds up what the gates cost: every suite's read-and-validate time (recorded per run in
`audit.validation_results.seconds`, the first one including the one-off `import great_expectations`) and the
Data Docs tasks (from Airflow's task instances). Overhead = gate time / (wall time - gate time).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="sample city scale (default 1.0, as make demo)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bienestar-gate-bench-"))
    os.environ["BIENESTAR_HOME"] = str(home)
    from bienestar.demo import prepare_demo
    from bienestar.runner import configure_airflow, run_pipeline
    from cities import load_city

    configure_airflow()
    city = load_city("la_paz_demo")
    print(f"generating the sample city at scale {args.scale} in {home} ...", flush=True)
    prepare_demo(city, scale=args.scale)
    started = time.perf_counter()
    run_pipeline(city)
    wall = time.perf_counter() - started

    import duckdb
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    from bienestar import settings

    con = duckdb.connect(str(settings.paths().warehouse_for(city.name)), read_only=True)
    suites = con.execute("SELECT suite, \"partition\", any_value(seconds) AS s FROM audit.validation_results "
                         "GROUP BY ALL ORDER BY s DESC").fetchall()
    con.close()
    validation = sum(s for _, _, s in suites)
    with create_session() as session:
        docs = sum((ti.duration or 0.0) for ti in session.query(TaskInstance)
                   .filter(TaskInstance.task_id == "build_data_docs").all())
    gates = validation + docs
    print(f"\npipeline wall time (5 DAG runs, dag.test):   {wall:8.1f} s")
    print(f"validations ({len(suites)} suite runs):              {validation:8.1f} s")
    for suite, partition, seconds in suites[:5]:
        print(f"    {suite:<28} {partition:<8} {seconds:6.2f} s")
    print(f"Data Docs builds:                           {docs:8.1f} s")
    print(f"gates in all:                               {gates:8.1f} s")
    print(f"overhead = gates / (wall - gates):          {gates / (wall - gates):8.1%}   (target < 30%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
