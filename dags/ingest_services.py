"""Public-service records, one month per run: land the month's files, gate them, build staging, gate it."""

from airflow.sdk import CronDataIntervalTimetable, dag, task

from bienestar.orchestration import (
    DEFAULT_ARGS,
    STAGED_SERVICES,
    WRITER_POOL,
    close_run,
    current_city,
    month_of,
    run_gate_task,
)


@dag(
    schedule=CronDataIntervalTimetable("@monthly", timezone="UTC"),
    catchup=False,
    tags=["bienestar", "ingest", "services"],
    default_args=DEFAULT_ARGS,
    max_active_runs=1,
    doc_md=__doc__,
)
def ingest_services():
    @task
    def fetch_from_portal(data_interval_start=None):
        """Pull the month from the city's CKAN portal into landing/ (cities that deliver files skip this)."""
        from sources.ckan import fetch_services

        city = current_city()
        if "portal" not in city.section("services"):
            return "no portal: the month's files are delivered to landing/ directly"
        return {family: str(path) for family, path in fetch_services(city, month_of(data_interval_start)).items()}

    @task(pool=WRITER_POOL)
    def land_service_files(data_interval_start=None):
        from sources.deliveries import land_services

        return land_services(current_city(), month_of(data_interval_start))

    @task(pool=WRITER_POOL)
    def gate_raw_services(run_id=None, data_interval_start=None):
        run_gate_task("raw_services", run_id, month_of(data_interval_start))

    @task(pool=WRITER_POOL)
    def build_staging_services(data_interval_start=None):
        from transforms.staging import stage_services

        return stage_services(current_city(), month_of(data_interval_start))

    @task(pool=WRITER_POOL, outlets=[STAGED_SERVICES])
    def gate_staging_services(run_id=None, data_interval_start=None):
        run_gate_task("staging_service_records", run_id, month_of(data_interval_start))

    steps = [fetch_from_portal(), land_service_files(), gate_raw_services(), build_staging_services(),
             gate_staging_services()]
    steps[0] >> steps[1] >> steps[2] >> steps[3] >> steps[4]
    close_run(steps)


ingest_services()
