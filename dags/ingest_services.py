"""Public-service records of each city with services, one month per run: fetch the month from the city's portal
(cities that deliver files skip this), land it, gate it, build staging, gate it.

A month not published yet is skipped with a message, not failed. The schedule runs from the first to the last
month the city lists (`months:`): unpausing runs nothing without data; load past months with a backfill (see
docs/operations.md).
"""

from airflow.sdk import CronDataIntervalTimetable, dag, task

from bienestar.orchestration import (
    close_run,
    dag_kwargs,
    deployed_cities,
    month_of,
    period_window,
    run_gate_task,
    staged,
    task_errors,
    writer_pool,
)


def services_dag(city):
    outlet = staged(city, "services")
    pool = writer_pool(city)
    start, end = period_window(city)

    @dag(
        schedule=CronDataIntervalTimetable("@monthly", timezone="UTC"),
        start_date=start,
        end_date=end,
        **dag_kwargs(city, "ingest_services", "ingest", "services"),
        doc_md=__doc__,
    )
    def ingest_services():
        @task(doc_md="Pull the month of every service family from the city's CKAN portal into landing/ "
              "(retried on network errors; skipped when the month is not published yet).")
        def fetch_from_portal(data_interval_start=None):
            from sources.ckan import fetch_services

            if "portal" not in city.section("services"):
                return "no portal: the month's files are delivered to landing/ directly"
            with task_errors():
                return {family: str(path) for family, path in
                        fetch_services(city, month_of(data_interval_start)).items()}

        @task(pool=pool, doc_md="Land the month's files into `raw.service_records` (identifiers dropped, ids "
              "pseudonymised).")
        def land_service_files(fetched, data_interval_start=None):
            from sources.deliveries import land_services

            with task_errors():
                return land_services(city, month_of(data_interval_start))

        @task(pool=pool, doc_md="Gate `raw_services` for the month: columns, a file cut short, unusable values.")
        def gate_raw_services(landed, run_id=None, data_interval_start=None):
            return run_gate_task(city, "raw_services", run_id, month_of(data_interval_start))

        @task(pool=pool, doc_md="Type and place the month's records into `staging.service_records` (rejected "
              "rows to `audit.quarantine`).")
        def build_staging_services(gated, data_interval_start=None):
            from transforms.staging import stage_services

            with task_errors():
                return stage_services(city, month_of(data_interval_start))

        @task(pool=pool, outlets=[outlet], doc_md="Gate `staging_service_records`; on success the month counts "
              "as staged and gated, and the Asset event (with row counts) triggers build_indicators.")
        def gate_staging_services(counts, run_id=None, data_interval_start=None, outlet_events=None):
            month = month_of(data_interval_start)
            result = run_gate_task(city, "staging_service_records", run_id, month)
            outlet_events[outlet].extra = {"partition": month, "rows": counts}
            return result

        fetched = fetch_from_portal()
        landed = land_service_files(fetched)
        gated = gate_raw_services(landed)
        counts = build_staging_services(gated)
        close_run(city, [fetched, landed, gated, counts, gate_staging_services(counts)])

    return ingest_services()


for _city in deployed_cities():
    if "services" in _city.config:
        services_dag(_city)
