"""What the DAG files share: the Assets that link them, default task arguments, and the city of a run.

Kept free of heavy imports: the scheduler imports this module every time it parses a DAG file.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset

STAGED_CENSUS = Asset("duckdb://bienestar/staging/census")
STAGED_SERVICES = Asset("duckdb://bienestar/staging/service_records")
STAGED_SENSORS = Asset("duckdb://bienestar/staging/sensor_readings")
MARTS = Asset("duckdb://bienestar/marts")

# Writers of the working DuckDB file queue on this one-slot pool: DuckDB allows one writing process.
WRITER_POOL = "duckdb_writer"

def _failure_file(dag_id: str, task_id: str):
    from bienestar import settings

    return settings.paths().airflow_home / "failures" / f"{dag_id}.{task_id}.txt"


def record_failure(context) -> None:
    """Task failure callback: keep the error's one-line message where the runner and operators can read it."""
    ti = context["ti"]
    path = _failure_file(ti.dag_id, ti.task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{type(context.get('exception')).__name__}: {context.get('exception')}", encoding="utf-8")


def read_failure(dag_id: str, task_id: str) -> str | None:
    """The last error recorded for a task, if any."""
    path = _failure_file(dag_id, task_id)
    return path.read_text(encoding="utf-8") if path.exists() else None


DEFAULT_ARGS = {
    "owner": "bienestar",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "on_failure_callback": record_failure,
}


def current_city():
    """The city of this run (BIENESTAR_CITY, default the sample city), read at run time, not parse time."""
    from bienestar import settings
    from cities import load_city

    return load_city(settings.city_name())


def is_census_tables(city) -> bool:
    """True for a city whose census comes as published aggregate tables rather than microdata."""
    return bool(city.config["census"].get("tables"))


def marts_periods(city) -> list[str]:
    """The periods the marts of a city hold: every census year of aggregate tables, else the vintage."""
    if is_census_tables(city):
        periods = {p for table in city.config["census"]["tables"].values()
                   for p in list((table.get("periods") or {}).keys())
                   + [c["period"] for c in (table.get("columns") or {}).values()]}
        return sorted(periods)
    return city.vintages


def census_year_of(city, logical_date) -> str:
    """The census year a census run loads: the year of its logical date (trigger it dated in that year)."""
    year = f"{logical_date:%Y}" if logical_date else city.vintage
    if year not in city.vintages:
        raise ValueError(f"{city.name} has no census {year} (census years: {', '.join(city.vintages)}): trigger "
                         "ingest_census with a logical date in one of them")
    return year


def interval_key(data_interval_start, data_interval_end) -> str:
    """The partition a data interval writes: `YYYY-MM-DD` for a day, `YYYY-MM` for a month."""
    from sources.sensor_deliveries import partition_key

    return partition_key(data_interval_start, data_interval_end)


def month_of(data_interval_start) -> str:
    """The `YYYY-MM` partition a monthly data interval covers."""
    return f"{data_interval_start:%Y-%m}"


def run_gate_task(suite: str, run_id: str | None, partition: str | None = None) -> None:
    """Run a quality gate inside a task; a failed gate fails the task at once, without retries.

    A gate's verdict is deterministic (the same data fails the same way), so retrying would only delay the alert.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from expectations.gate import GateFailed, run_gate

    try:
        run_gate(current_city(), suite, run_id or "manual", partition)
    except GateFailed as exc:
        raise AirflowFailException(str(exc)) from exc


def close_run(tasks: list) -> None:
    """End a DAG run: build Data Docs whatever happened, then fail the run if any task failed.

    The docs task runs on ALL_DONE so a failed run still gets its validation pages; because a successful leaf
    would otherwise let Airflow mark the run successful, `fail_run` (ONE_FAILED) keeps a failed run failed.
    """
    from airflow.sdk import TriggerRule, task

    @task(pool=WRITER_POOL, trigger_rule=TriggerRule.ALL_DONE)
    def build_data_docs(run_id=None):
        from expectations.gate import build_data_docs

        return str(build_data_docs(run_id))

    @task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
    def fail_run():
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("a task of this run failed (see its log); Data Docs were built for it")

    docs = build_data_docs()
    tasks[-1] >> docs
    [*tasks, docs] >> fail_run()
