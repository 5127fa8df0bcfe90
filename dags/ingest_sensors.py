"""Sensor readings, one day per run (a backfill of a month is thirty runs, each idempotent): pull the day from
the sensor network, land it, gate it, flag it in staging, gate it."""

from airflow.sdk import CronDataIntervalTimetable, dag, task

from bienestar.orchestration import (
    DEFAULT_ARGS,
    STAGED_SENSORS,
    WRITER_POOL,
    close_run,
    current_city,
    interval_key,
    run_gate_task,
)


@dag(
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    catchup=False,
    tags=["bienestar", "ingest", "sensors"],
    default_args=DEFAULT_ARGS,
    max_active_runs=1,
    doc_md=__doc__,
)
def ingest_sensors():
    @task
    def fetch_from_portal(data_interval_start=None, data_interval_end=None):
        """Pull the interval's readings from the SensorThings service into landing/ (file-only cities skip this)."""
        from sources.sensorthings import fetch_sensors

        city = current_city()
        if "portal" not in city.section("sensors"):
            return "no portal: the readings are delivered to landing/ directly"
        return str(fetch_sensors(city, data_interval_start, data_interval_end))

    @task(pool=WRITER_POOL)
    def land_sensor_files(data_interval_start=None, data_interval_end=None):
        from sources.deliveries import land_sensors

        return land_sensors(current_city(), data_interval_start, data_interval_end)

    @task(pool=WRITER_POOL)
    def gate_raw_sensors(run_id=None, data_interval_start=None, data_interval_end=None):
        run_gate_task("raw_sensors", run_id, interval_key(data_interval_start, data_interval_end))

    @task(pool=WRITER_POOL)
    def build_staging_sensors(data_interval_start=None, data_interval_end=None):
        from transforms.staging import stage_sensors

        return stage_sensors(current_city(), data_interval_start, data_interval_end)

    @task(pool=WRITER_POOL, outlets=[STAGED_SENSORS])
    def gate_staging_sensors(run_id=None, data_interval_start=None, data_interval_end=None):
        run_gate_task("staging_sensor_readings", run_id, interval_key(data_interval_start, data_interval_end))

    steps = [fetch_from_portal(), land_sensor_files(), gate_raw_sensors(), build_staging_sensors(),
             gate_staging_sensors()]
    steps[0] >> steps[1] >> steps[2] >> steps[3] >> steps[4]
    close_run(steps)


ingest_sensors()
