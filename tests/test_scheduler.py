"""The pipeline under a real Airflow, as an operator runs it: `bienestar airflow start` on a fresh PostgreSQL
database (scheduler, dag-processor, triggerer, api-server; LocalExecutor, then CeleryExecutor on Redis with one
worker), both cities side by side, the sample city's deliveries driven through the REST API in a realistic
order (census 2024 first, a 30-day sensor backfill, services, the older census last, a re-delivery), then:
every run's state, no build from incomplete sources, one writer at a time per city, Asset events with row
counts, the final snapshot equal to the one `bienestar run` (dag.test) publishes from the same deliveries, and
the UI's DAG list and a run's grid in a headless Chromium. Everything is stopped and dropped even on failure.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from browser import Chromium
from conftest import snapshot_tables

from bienestar.deployment import Client, free_port, fresh_postgres_database

pytestmark = pytest.mark.scheduler  # real Airflow processes: make test, not make test-fast

PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/{db}"
BIENESTAR = str(Path(sys.executable).with_name("bienestar"))
LA_PAZ = "la_paz_demo"
BOLIVIA = "bolivia_municipal"
DAGS = ("ingest_census", "ingest_services", "ingest_sensors", "build_indicators", "publish_report")
BOLIVIA_DAGS = ("ingest_census", "build_indicators", "publish_report")


@contextlib.contextmanager
def deployment(reference_home: Path, home: Path, executor: str):
    """A fresh database and home (the reference's deliveries copied in), `bienestar airflow start`; always
    stopped and dropped afterwards."""
    db = f"bienestar_test_{executor.lower()}_{os.getpid()}"
    for folder in ("landing", "portal"):
        shutil.copytree(reference_home / folder, home / folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BIENESTAR_"))}
    port, portal_port = free_port(), free_port()
    env.update({
        "BIENESTAR_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": PG.format(db=db),
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/15",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@127.0.0.1:5432/{db}",
    })
    with fresh_postgres_database(db):
        try:
            started = subprocess.run([BIENESTAR, "airflow", "start", "--port", str(port), "--portal-port",
                                      str(portal_port)], env=env, capture_output=True, text=True, timeout=600)
            assert started.returncode == 0, started.stdout + started.stderr
            assert f"Airflow is up: http://127.0.0.1:{port}" in started.stdout
            password = json.loads((home / "airflow" / "passwords.json").read_text())["admin"]
            assert f"login admin / {password}" in started.stdout
            yield Client(f"http://127.0.0.1:{port}", "admin", password), started.stdout
        finally:
            stopped = subprocess.run([BIENESTAR, "airflow", "stop"], env=env, capture_output=True, text=True,
                                     timeout=120)
            assert not list((home / "airflow" / "run").glob("*.pid")), stopped.stdout


def overlapping(intervals: list[tuple[datetime, datetime, str]]) -> list[tuple[str, str]]:
    """Pairs of task instances whose [start, end] overlap."""
    ordered = sorted(intervals)
    return [(a[2], b[2]) for a, b in zip(ordered, ordered[1:], strict=False) if b[0] < a[1]]


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def drive_the_sample_city(client: Client, out) -> float:
    """Both cities unpaused; the sample city's deliveries in an order a real deployment sees; the seconds taken."""
    started = time.monotonic()
    for dag in DAGS:
        client.unpause(f"{LA_PAZ}.{dag}")
    for dag in BOLIVIA_DAGS:
        client.unpause(f"{BOLIVIA}.{dag}")
    client.trigger(f"{LA_PAZ}.ingest_census", {"year": "2024"})  # the census first: its areas place the rest
    client.trigger(f"{BOLIVIA}.ingest_census")  # the other city at the same time, on its own writer pool
    client.wait_idle([f"{LA_PAZ}.{d}" for d in DAGS] + [f"{BOLIVIA}.{d}" for d in BOLIVIA_DAGS], out=out)
    # a month of sensor days (four runs at a time: their writers still queue on the one-slot pool), services
    client.backfill(f"{LA_PAZ}.ingest_sensors", "2024-06-01", "2024-06-30", max_active_runs=4)
    client.backfill(f"{LA_PAZ}.ingest_services", "2024-06-01", "2024-06-01")
    client.wait_idle([f"{LA_PAZ}.{d}" for d in DAGS], out=out)
    client.trigger(f"{LA_PAZ}.ingest_census", {"year": "2012"})  # the older census arrives last
    client.wait_idle([f"{LA_PAZ}.{d}" for d in DAGS], out=out)
    return time.monotonic() - started


def check_runs(client: Client, home: Path, reference_tables) -> None:
    runs = {dag: client.runs(f"{LA_PAZ}.{dag}") for dag in DAGS}
    assert [r["state"] for r in runs["ingest_census"]] == ["success", "success"]
    assert [r["state"] for r in runs["ingest_services"]] == ["success"]
    assert len(runs["ingest_sensors"]) == 30 and {r["state"] for r in runs["ingest_sensors"]} == {"success"}
    assert {r["run_type"] for r in runs["ingest_sensors"]} == {"backfill"}

    # every build either skipped at its completeness check (nothing built, nothing published) or built from
    # complete, gated sources; only the builds that ran published
    built = []
    for run in runs["build_indicators"]:
        assert run["state"] == "success", run
        states = {t["task_id"]: t["state"] for t in client.task_instances(f"{LA_PAZ}.build_indicators",
                                                                          run["dag_run_id"])}
        if states["check_sources_complete"] == "skipped":
            assert states["build_indicator_values"] == "skipped" and states["gate_index_scores"] == "skipped"
        else:
            assert states["check_sources_complete"] == "success" and states["gate_index_scores"] == "success"
            built.append(run)
    assert len(runs["build_indicators"]) > len(built) >= 1  # early builds were skipped, the last one built
    assert len(runs["publish_report"]) == len(built)
    assert {r["state"] for r in runs["publish_report"]} == {"success"}

    # unpausing ran nothing for the schedules (start/end dates = the city's months, no catchup)
    assert all(r["run_type"] != "scheduled" for dag in DAGS for r in runs[dag])

    # one writer of the city's database at a time, across all concurrent backfill runs
    writers = []
    for dag in ("ingest_sensors", "ingest_census", "ingest_services", "build_indicators"):
        for run in runs[dag]:
            for t in client.task_instances(f"{LA_PAZ}.{dag}", run["dag_run_id"]):
                if t["pool"] != f"bienestar_{LA_PAZ}_writer" or not (t["start_date"] and t["end_date"]):
                    continue
                start, end = parse(t["start_date"]), parse(t["end_date"])
                # a task skipped by the scheduler (its upstream skipped) never ran nor held the slot: Airflow
                # stamps it start = end = the moment it was skipped, which may fall inside a running writer
                if end > start:
                    writers.append((start, end, f"{dag}/{t['task_id']}"))
    # at least 30 sensor days x 4 writer tasks, 2 census years x 4 and one service month x 4 = 132
    assert len(writers) >= 132 and overlapping(writers) == []

    # Asset events carry the partition and row counts
    events = client.get(f"/api/v2/assets/events?limit=100&source_dag_id={LA_PAZ}.ingest_sensors")["asset_events"]
    assert len(events) == 30 and all(e["extra"]["rows"]["readings"] > 0 for e in events), events[:1]

    # the final snapshot is the one dag.test publishes from the same deliveries
    final = snapshot_tables(home / "published" / LA_PAZ / "current.duckdb")
    assert final.keys() == reference_tables.keys()
    for table, frame in reference_tables.items():
        pd.testing.assert_frame_equal(final[table], frame, obj=table)

    # the other city ran beside it, from its own Assets, into its own files
    assert [r["state"] for r in client.runs(f"{BOLIVIA}.publish_report")] == ["success"]
    assert (home / "published" / BOLIVIA / "current.duckdb").exists()
    assert (home / "warehouse" / f"{BOLIVIA}.duckdb").exists() and (home / "warehouse" / f"{LA_PAZ}.duckdb").exists()


def test_local_executor_on_postgresql(complete_run, tmp_path):
    reference_home, reference_tables, reference_seconds = complete_run.home, complete_run.tables, complete_run.seconds
    with deployment(reference_home, tmp_path / "home", "LocalExecutor") as (client, started):
        assert "pools (1 slot each):" in started and f"bienestar_{LA_PAZ}_writer" in started
        seconds = drive_the_sample_city(client, sys.stdout)
        print(f"\nfull cycle under the scheduler: {seconds:.0f} s; bienestar run (dag.test): {reference_seconds:.0f} s")
        check_runs(client, tmp_path / "home", reference_tables)
        # a re-delivery of a census year is just another trigger: no invented timestamp, no UniqueViolation
        client.trigger(f"{LA_PAZ}.ingest_census", {"year": "2024"})
        client.wait_idle([f"{LA_PAZ}.{d}" for d in DAGS])
        assert [r["state"] for r in client.runs(f"{LA_PAZ}.ingest_census")] == ["success"] * 3
        # the report and Data Docs are served by the api-server (plugin)
        for path in (f"/bienestar/reports/{LA_PAZ}/latest/index.html",
                     f"/bienestar/quality/{LA_PAZ}/gx/uncommitted/data_docs/local_site/index.html"):
            with urllib.request.urlopen(client.url + path, timeout=30) as page:
                assert page.status == 200 and b"<html" in page.read(2000).lower()
        check_ui_in_chromium(client, tmp_path)


def test_celery_executor_on_redis(complete_run, tmp_path):
    """The same deployment on Celery (Redis broker, one worker), on a shorter drive: what Celery adds is the
    worker's configuration (shared secrets, pools, the environment), not the DAGs' logic, which the LocalExecutor
    test checks on the whole cycle. Both cities' censuses and three sensor days run; the sample city's build
    waits for its missing sources at every run; the other city publishes."""
    home = tmp_path / "home"
    with deployment(complete_run.home, home, "CeleryExecutor") as (client, started):
        assert "starting celery-worker" in started
        for dag in DAGS:
            client.unpause(f"{LA_PAZ}.{dag}")
        for dag in BOLIVIA_DAGS:
            client.unpause(f"{BOLIVIA}.{dag}")
        client.trigger(f"{LA_PAZ}.ingest_census", {"year": "2024"})
        client.trigger(f"{BOLIVIA}.ingest_census")
        client.backfill(f"{LA_PAZ}.ingest_sensors", "2024-06-01", "2024-06-03", max_active_runs=3)
        client.wait_idle([f"{LA_PAZ}.{d}" for d in DAGS] + [f"{BOLIVIA}.{d}" for d in BOLIVIA_DAGS],
                         out=sys.stdout)

        assert [r["state"] for r in client.runs(f"{LA_PAZ}.ingest_census")] == ["success"]
        sensors = client.runs(f"{LA_PAZ}.ingest_sensors")
        assert len(sensors) == 3 and {r["state"] for r in sensors} == {"success"}
        builds = client.runs(f"{LA_PAZ}.build_indicators")
        assert builds and all(
            {t["task_id"]: t["state"] for t in client.task_instances(f"{LA_PAZ}.build_indicators",
                                                                     r["dag_run_id"])}["check_sources_complete"]
            == "skipped" for r in builds)  # 27 sensor days, the services and the 2012 census are missing
        assert client.runs(f"{LA_PAZ}.publish_report") == []
        assert not (home / "published" / LA_PAZ / "current.duckdb").exists()
        assert [r["state"] for r in client.runs(f"{BOLIVIA}.publish_report")] == ["success"]
        assert (home / "published" / BOLIVIA / "current.duckdb").exists()
        writers = [(parse(t["start_date"]), parse(t["end_date"]), f"{r['dag_run_id']}/{t['task_id']}")
                   for r in sensors for t in client.task_instances(f"{LA_PAZ}.ingest_sensors", r["dag_run_id"])
                   if t["pool"] == f"bienestar_{LA_PAZ}_writer" and t["start_date"] and t["end_date"]
                   and parse(t["end_date"]) > parse(t["start_date"])]
        assert len(writers) >= 3 * 4 and overlapping(writers) == []


# ---------------------------------------------------------------------------------------------- the UI
def check_ui_in_chromium(client: Client, tmp_path: Path) -> None:
    """The DAG list and a run's grid, rendered by the real UI in headless Chromium (logged in by the JWT cookie
    the UI itself uses)."""
    with Chromium(tmp_path / "chromium") as chromium:
        page = chromium.open(f"{client.url}/dags", width=1400, height=1000, cookies={"_token": client.token})
        page.wait_for_text([f"{LA_PAZ}.ingest_census", f"{BOLIVIA}.ingest_census", f"{LA_PAZ}.build_indicators"])
        run = client.runs(f"{LA_PAZ}.ingest_sensors")[-1]["dag_run_id"]
        page.goto(f"{client.url}/dags/{LA_PAZ}.ingest_sensors/runs/{urllib.parse.quote(run, safe='')}")
        page.wait_for_text(["gate_staging_sensors", "build_data_docs"])
        assert page.screenshot(tmp_path / "grid.png").stat().st_size > 10_000

