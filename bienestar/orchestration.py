"""What the DAG files share: the cities deployed, their Assets and pools, task defaults, and how a task's errors
become Airflow states.

Every city under `cities/*/city.yaml` (or those BIENESTAR_CITIES lists) gets its own DAG set, named
`<city>.<dag>` (e.g. `la_paz_demo.ingest_census`), its own Assets, its own working database and its own one-slot
writer pool, so cities never queue on each other's writer.

Kept free of heavy imports: the dag-processor imports this module every time it parses a DAG file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset

from cities import City, available_cities, load_city

SOURCES = ("census", "services", "sensors")
STAGED_TABLE = {"census": "census", "services": "service_records", "sensors": "sensor_readings"}


def deployed_cities() -> list[City]:
    """The cities whose DAGs this deployment runs: BIENESTAR_CITIES (comma-separated) or every city folder."""
    names = [n.strip() for n in os.environ.get("BIENESTAR_CITIES", "").split(",") if n.strip()]
    return [load_city(name) for name in names or available_cities()]


def dag_id(city: City, name: str) -> str:
    return f"{city.name}.{name}"


def staged(city: City, source: str) -> Asset:
    """The Asset a source's gated staging tables of a city are (updated by its ingest DAG's last gate)."""
    return Asset(f"duckdb://bienestar/{city.name}/staging/{STAGED_TABLE[source]}",
                 group=f"bienestar.{city.name}")


def marts(city: City) -> Asset:
    """The Asset of a city's gated marts (updated by build_indicators, consumed by publish_report)."""
    return Asset(f"duckdb://bienestar/{city.name}/marts", group=f"bienestar.{city.name}")


def city_sources(city: City) -> list[str]:
    """The sources a city has DAGs for: the census always, services and sensors when its config has them."""
    return [s for s in SOURCES if s == "census" or s in city.config]


def writer_pool(city: City) -> str:
    """The one-slot pool every writer of a city's working DuckDB file queues on (DuckDB: one writing process)."""
    return f"bienestar_{city.name}_writer"


def docs_pool(city: City) -> str:
    """A separate one-slot pool for a city's Data Docs: they write only GX files, so they never wait for (or hold
    up) the database writer, and two runs never render the same site at once."""
    return f"bienestar_{city.name}_docs"


def pools(city: City) -> dict[str, str]:
    return {writer_pool(city): f"{city.name}: writers of warehouse/{city.name}.duckdb (DuckDB allows one "
                               "writing process)",
            docs_pool(city): f"{city.name}: Data Docs builds (one GX site per city)"}



def task_timeout(city: City) -> timedelta:
    return timedelta(minutes=city.settings.schedule.task_timeout_minutes)


def run_timeout(city: City) -> timedelta:
    return timedelta(minutes=city.settings.schedule.run_timeout_minutes)


def default_args(city: City) -> dict:
    """Task defaults: retries (which `task_errors` spends only on I/O errors), a timeout, the failure alert, and
    priority to the tasks of runs already under way (weight_rule upstream: a backfill finishes a day before it
    starts the next)."""
    from bienestar.alerts import task_failed

    return {
        "owner": "bienestar",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": task_timeout(city),
        "on_failure_callback": task_failed,
        "weight_rule": "upstream",
    }


def dag_kwargs(city: City, name: str, *tags: str, **overrides) -> dict:
    """What every DAG of a city states: its id, tags, task defaults, one run at a time, a run timeout, no
    catchup (past intervals are loaded by a backfill, on purpose)."""
    return {"dag_id": dag_id(city, name), "catchup": False, "tags": ["bienestar", city.name, *tags],
            "default_args": default_args(city), "max_active_runs": 1, "dagrun_timeout": run_timeout(city),
            **overrides}


def period_window(city: City) -> tuple[datetime | None, datetime | None]:
    """Start and end of the monthly and daily schedules: the first and last month the city lists (`months:`).

    Unpausing a DAG then runs nothing that has no data (catchup is off, and the end date stops the clock);
    the months are loaded by a backfill over that window. A city that delivers every month from now on sets
    `schedule.start` (YYYY-MM-DD) and no end, and each new interval is run when its time has passed.
    """
    start = city.settings.schedule.start
    if start:
        return datetime.combine(start, datetime.min.time(), tzinfo=UTC), None
    if not city.months:
        return datetime(int(city.vintage), 1, 1, tzinfo=UTC), None
    first = datetime.strptime(min(city.months), "%Y-%m").replace(tzinfo=UTC)
    last = datetime.strptime(max(city.months), "%Y-%m").replace(tzinfo=UTC)
    end = last.replace(year=last.year + last.month // 12, month=last.month % 12 + 1)
    return first, end


# ---------------------------------------------------------------------------------------------- task errors
def is_transient(exc: BaseException) -> bool:
    """An error worth retrying: the network, a timeout, a server error, a database file locked by someone else.

    Everything else (a bad delivery, a bug, a config error) fails the same way on every try: retrying would only
    delay the alert.
    """
    import duckdb

    from sources.http import FetchError

    if isinstance(exc, FetchError):
        return exc.retryable
    return isinstance(exc, ConnectionError | TimeoutError | duckdb.IOException) or (
        isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError))


@contextlib.contextmanager
def task_errors() -> Iterator[None]:
    """Turn a task's errors into Airflow states: not delivered yet -> skipped; a failed gate or any deterministic
    error -> failed at once (no retry); an I/O error -> raised, so Airflow retries it."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

    from expectations.gate import GateFailed
    from sources import NotDeliveredYet

    try:
        yield
    except NotDeliveredYet as exc:
        raise AirflowSkipException(f"nothing to load yet: {exc}") from exc
    except GateFailed as exc:  # a gate's verdict is deterministic: the same data fails the same way
        raise AirflowFailException(str(exc)) from exc
    except AirflowException:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def run_gate_task(city: City, suite: str, run_id: str | None, partition: str | None = None) -> dict:
    """Run a quality gate inside a task: a few readable log lines, a failed gate fails the task without retry."""
    from expectations.gate import run_gate

    with task_errors():
        outcomes = run_gate(city, suite, run_id or "manual", partition)
    return {"suite": suite, "partition": partition or city.vintage, "checks": len(outcomes),
            "warnings": sum(not o.success for o in outcomes)}


# ---------------------------------------------------------------------------------------------- partitions
def marts_periods(city: City) -> list[str]:
    """The periods the marts of a city hold: every census year of aggregate tables, else the census years."""
    if city.census_tables:
        periods = {p for table in city.settings.census.tables.values()
                   for p in list((table.get("periods") or {}).keys())
                   + [c["period"] for c in (table.get("columns") or {}).values()]}
        return sorted(periods)
    return city.vintages


def census_year_of(city: City, params: dict | None, logical_date) -> str:
    """The census year a census run loads: the `year` param (trigger with conf {"year": "2012"}, no logical date:
    a re-delivery needs no invented timestamp), else the year of the logical date, else the latest census."""
    year = str((params or {}).get("year") or "").strip() or (f"{logical_date:%Y}" if logical_date else city.vintage)
    if year not in city.vintages:
        raise ValueError(f"{city.name} has no census {year} (census years: {', '.join(city.vintages)}): trigger "
                         f"{dag_id(city, 'ingest_census')} with conf {{\"year\": \"<one of them>\"}}")
    return year


def interval_key(data_interval_start, data_interval_end) -> str:
    """The partition a data interval writes: `YYYY-MM-DD` for a day, `YYYY-MM` for a month."""
    from sources.sensor_deliveries import partition_key

    return partition_key(data_interval_start, data_interval_end)


def month_of(data_interval_start) -> str:
    """The `YYYY-MM` partition a monthly data interval covers."""
    return f"{data_interval_start:%Y-%m}"


# ---------------------------------------------------------------------------------------------- run shape
def close_run(city: City, tasks: list) -> None:
    """End a DAG run: build Data Docs whatever happened, then fail the run if any task failed.

    The docs task runs on ALL_DONE so a failed run still gets its validation pages; it has its own pool, so it
    never waits behind the writers of other runs. Because a successful leaf would otherwise let Airflow mark the
    run successful, `fail_run` (ONE_FAILED) keeps a failed run failed.
    """
    from airflow.sdk import TriggerRule, task

    @task(pool=docs_pool(city), trigger_rule=TriggerRule.ALL_DONE, doc_md="Render the city's Great Expectations "
          "Data Docs for this run's validations (also after a failure); served in the UI under Bienestar.")
    def build_data_docs(run_id=None):
        from expectations.gate import build_data_docs

        with task_errors():
            return str(build_data_docs(city.name, run_id))

    @task(trigger_rule=TriggerRule.ONE_FAILED, retries=0, doc_md="Marks the run failed when one of its tasks "
          "failed (the Data Docs task would otherwise make it look successful).")
    def fail_run():
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("a task of this run failed (see its log); Data Docs were built for it")

    docs = build_data_docs()
    tasks[-1] >> docs
    [*tasks, docs] >> fail_run()
