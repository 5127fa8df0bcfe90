"""Run the pipeline's DAGs in order through real Airflow (`dag.test()`), on a local SQLite metadata DB.

This is what `bienestar run` and `make demo` use: no scheduler or webserver, but the real DAG files, parsed by
Airflow's DagBag, run task by task with Airflow's own runner. It stops on the first failed DAG run and says
which task failed and why.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bienestar import settings

DAGS_FOLDER = settings.PROJECT_ROOT / "dags"
PLUGINS_FOLDER = settings.PROJECT_ROOT / "plugins"  # the UI plugin and the deployment's local settings


@dataclass(frozen=True)
class Step:
    dag_id: str
    logical_date: datetime | None
    label: str = ""
    conf: dict | None = None

    @property
    def name(self) -> str:
        """The DAG's name without its city: `ingest_census` for `la_paz_demo.ingest_census`."""
        return self.dag_id.split(".", 1)[-1]


class PipelineFailed(RuntimeError):
    """A DAG run failed; the message names the DAG, the failed task(s) and the error."""


def configure_airflow(home: Path | None = None) -> Path:
    """Point Airflow at BIENESTAR_HOME/airflow and the project's DAGs; must run before `import airflow`."""
    airflow_home = home or settings.paths().airflow_home
    airflow_home.mkdir(parents=True, exist_ok=True)
    defaults = {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # Airflow's API server code imports starlette's test client, which warns on every start; not ours to fix.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    return airflow_home


def prepare_metadata_db(cities) -> None:
    """Create or migrate Airflow's metadata DB and the cities' one-slot pools."""
    from airflow.models.pool import Pool
    from airflow.utils import db

    from bienestar.orchestration import pools

    db.initdb()
    for city in cities:
        for name, description in pools(city).items():
            Pool.create_or_update_pool(name, slots=1, description=description, include_deferred=False)


def plan(city) -> list[Step]:
    """The DAG runs that build a city's vintage: census, every month of services and sensors, then the rest."""
    from bienestar.orchestration import city_sources, dag_id

    vintage_date = datetime(int(city.vintage), 1, 1, tzinfo=UTC)
    census = dag_id(city, "ingest_census")
    if city.census_tables:
        steps = [Step(census, vintage_date, "census tables")]
    else:  # a census year is chosen by conf, like an operator's trigger (no logical date needed)
        steps = [Step(census, datetime(int(year), 1, 1, tzinfo=UTC), f"census {year}", {"year": year})
                 for year in city.vintages]
    sources = city_sources(city)
    for month in city.months:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
        # dag.test() runs the data interval that ends at the logical date it is given: the month's end, and
        # for the daily sensor runs each day's end.
        end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        if "services" in sources:
            steps.append(Step(dag_id(city, "ingest_services"), end, month))
        if "sensors" in sources:
            days = (end - start).days
            steps += [Step(dag_id(city, "ingest_sensors"), start + timedelta(days=d + 1),
                           f"{start + timedelta(days=d):%Y-%m-%d}") for d in range(days)]
    steps += [Step(dag_id(city, "build_indicators"), vintage_date, city.vintage),
              Step(dag_id(city, "publish_report"), vintage_date, city.vintage)]
    return steps


def _failure_details(dag_run) -> str:
    """Which tasks failed, with the error each recorded (see `alerts.task_failed`), and what did not run."""
    from airflow.utils.state import TaskInstanceState

    from bienestar.alerts import read_failure

    instances = dag_run.get_task_instances()
    # fail_run only marks the run failed when another task did: it is not news.
    lines = [f"task {ti.task_id} failed: "
             f"{read_failure(dag_run.dag_id, dag_run.run_id, ti.task_id) or 'see its log above'}"
             for ti in instances if ti.state == TaskInstanceState.FAILED and ti.task_id != "fail_run"]
    skipped = [ti.task_id for ti in instances if ti.state == TaskInstanceState.UPSTREAM_FAILED]
    if skipped:
        lines.append(f"not run because of it: {', '.join(skipped)}")
    return "\n  ".join(lines) or f"run ended in state {dag_run.state}"


def for_dag_test(dag):
    """A DAG as `dag.test()` runs it here: no retries (a failure should stop the run at once; retries are for
    flaky sources in production) and no Deadline Alerts (late runs are the scheduler's business, and Airflow
    3.3.2's dag.test() cannot evaluate them: DagRun.update_state gets their serialized dicts, AttributeError 'hex')."""
    for task in dag.tasks:
        task.retries = 0
    dag.deadline = None
    return dag


def _skipped(dag_run) -> str | None:
    """Why the run's first task skipped it (a source not delivered, sources incomplete), if it did."""
    from airflow.utils.state import TaskInstanceState

    instances = sorted(dag_run.get_task_instances(), key=lambda ti: ti.start_date or datetime.max.replace(tzinfo=UTC))
    first = instances[0] if instances else None
    if first is None or first.state != TaskInstanceState.SKIPPED:
        return None
    return f"task {first.task_id} skipped the run (see its log)"


def run_pipeline(city, *, out=sys.stdout, only=None) -> None:
    """Run every step of `plan(city)` in order (or those `only(step)` keeps); raise PipelineFailed at the first
    failed DAG run.

    For the sample city, its CKAN and SensorThings portal is served on 127.0.0.1 during the run.
    """
    from bienestar.demo import serving_portal

    with serving_portal(city) as portal:
        if portal:
            print(f"serving the city's open-data portal at {portal} (CKAN) and {portal}/sta/v1.1 (SensorThings)",
                  file=out, flush=True)
        _run_steps(city, out, only)


def _run_steps(city, out, only) -> None:
    configure_airflow()
    saved = os.environ.get("BIENESTAR_CITIES")
    os.environ["BIENESTAR_CITIES"] = city.name  # parse only this city's DAGs
    try:
        _run_city_steps(city, out, only)
    finally:
        if saved is None:
            os.environ.pop("BIENESTAR_CITIES", None)
        else:
            os.environ["BIENESTAR_CITIES"] = saved


def _run_city_steps(city, out, only) -> None:
    from airflow.dag_processing.dagbag import DagBag

    prepare_metadata_db([city])
    shutil.rmtree(settings.paths().airflow_home / "failures", ignore_errors=True)  # errors of earlier runs
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    if bag.import_errors:
        errors = "\n".join(f"{k}: {v}" for k, v in bag.import_errors.items())
        raise PipelineFailed(f"DAG files failed to import:\n{errors}")
    steps = [step for step in plan(city) if only is None or only(step)]
    for number, step in enumerate(steps, start=1):
        dag = bag.get_dag(step.dag_id)
        for_dag_test(dag)
        print(f"[{number}/{len(steps)}] {step.dag_id} ({step.label}) ...", file=out, flush=True)
        started = time.monotonic()
        dag_run = dag.test(logical_date=step.logical_date, run_conf=step.conf)
        took = time.monotonic() - started
        skipped = _skipped(dag_run)
        if skipped:
            raise PipelineFailed(f"{step.dag_id} ({step.label}) was skipped: {skipped}")
        if str(dag_run.state) != "success":
            raise PipelineFailed(f"{step.dag_id} ({step.label}) failed after {took:.0f} s:\n  "
                                 f"{_failure_details(dag_run)}\nThe published snapshot and report were not changed.")
        print(f"[{number}/{len(steps)}] {step.dag_id} ok in {took:.1f} s", file=out, flush=True)
