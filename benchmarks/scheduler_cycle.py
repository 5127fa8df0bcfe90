"""A full cycle of the sample city: `bienestar run` (dag.test, in order) or a real Airflow deployment.

    python benchmarks/scheduler_cycle.py --mode dag-test  [--scale 1]
    python benchmarks/scheduler_cycle.py --mode scheduler [--scale 1] [--executor LocalExecutor|CeleryExecutor]

Each call generates the sample city in a fresh temporary home (not timed), then times the pipeline: either every
DAG through dag.test in order, or `bienestar airflow start` on a fresh PostgreSQL database (127.0.0.1:5432, trust)
driven through the REST API in the order of tests/test_scheduler.py — the 2024 census, a 30-day sensor backfill
(four runs at a time), the services month, the 2012 census — until the scheduler is idle and the snapshot is
published. It prints the seconds and removes everything it made. Time the two modes side by side to get the
ratio the operations issue asks for (a full cycle under the scheduler within twice dag.test's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITY = "la_paz_demo"
DAGS = ("ingest_census", "ingest_services", "ingest_sensors", "build_indicators", "publish_report")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["dag-test", "scheduler"], required=True)
    parser.add_argument("--scale", type=float, default=1.0, help="sample city scale (default 1.0, as make demo)")
    parser.add_argument("--executor", default="LocalExecutor", choices=["LocalExecutor", "CeleryExecutor"])
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bienestar-cycle-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BIENESTAR_"))}
    env.update({"BIENESTAR_HOME": str(home), "BIENESTAR_CITIES": CITY})
    bienestar = str(Path(sys.executable).with_name("bienestar"))
    try:
        subprocess.run([bienestar, "generate", "--city", CITY, "--scale", str(args.scale)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        if args.mode == "dag-test":
            started = time.monotonic()
            subprocess.run([bienestar, "run", "--city", CITY], env=env, check=True, stdout=subprocess.DEVNULL)
            seconds = time.monotonic() - started
        else:
            seconds = scheduler_cycle(bienestar, env, home, args.executor)
        print(f"{args.mode} full cycle at scale {args.scale:g}: {seconds:.1f} s")
        return 0
    finally:
        shutil.rmtree(home, ignore_errors=True)


def scheduler_cycle(bienestar: str, env: dict, home: Path, executor: str) -> float:
    import json

    sys.path.insert(0, str(ROOT))
    from bienestar.deployment import Client, free_port, fresh_postgres_database

    db = f"bienestar_cycle_{os.getpid()}"
    port = free_port()
    env = {**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}",
           "AIRFLOW__CORE__EXECUTOR": executor, "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/14",
           "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@127.0.0.1:5432/{db}"}
    with fresh_postgres_database(db):
        try:
            subprocess.run([bienestar, "airflow", "start", "--port", str(port), "--portal-port", str(free_port())],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            password = json.loads((home / "airflow" / "passwords.json").read_text())["admin"]
            client = Client(f"http://127.0.0.1:{port}", "admin", password)
            dag_ids = [f"{CITY}.{d}" for d in DAGS]
            started = time.monotonic()
            for dag_id in dag_ids:
                client.unpause(dag_id)
            client.trigger(f"{CITY}.ingest_census", {"year": "2024"})
            client.wait_idle(dag_ids, settle=1)
            client.backfill(f"{CITY}.ingest_sensors", "2024-06-01", "2024-06-30", max_active_runs=4)
            client.backfill(f"{CITY}.ingest_services", "2024-06-01", "2024-06-01")
            client.wait_idle(dag_ids, settle=1)
            client.trigger(f"{CITY}.ingest_census", {"year": "2012"})
            client.wait_idle(dag_ids, settle=1)
            seconds = time.monotonic() - started - 3  # the three one-second settles are the harness's, not Airflow's
            published = [r for r in client.runs(f"{CITY}.publish_report") if r["state"] == "success"]
            if not published or not (home / "published" / CITY / "current.duckdb").exists():
                raise RuntimeError("the cycle ended without a publication")
            return seconds
        finally:
            subprocess.run([bienestar, "airflow", "stop"], env=env, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main())
