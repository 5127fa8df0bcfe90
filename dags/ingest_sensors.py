"""Sensor readings of each city with sensors, one day per run (a backfill of a month is thirty runs, each
idempotent): pull the day from the sensor network, land it, gate it, flag it in staging, gate it.

A day with no readings yet is skipped with a message, not failed. A run not finished two hours after it was
queued raises a late-run alert (Deadline Alert, sent by the triggerer through the `bienestar_alerts`
Connection). The schedule runs from the first to the last month the city lists (`months:`).
"""

from datetime import timedelta

from airflow.sdk import AsyncCallback, CronDataIntervalTimetable, DeadlineAlert, DeadlineReference, dag, task

from bienestar.alerts import run_late
from bienestar.orchestration import (
    close_run,
    dag_kwargs,
    deployed_cities,
    interval_key,
    period_window,
    run_gate_task,
    staged,
    task_errors,
    writer_pool,
)

LATE_AFTER = timedelta(hours=2)


def sensors_dag(city):
    outlet = staged(city, "sensors")
    pool = writer_pool(city)
    start, end = period_window(city)

    @dag(
        schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
        start_date=start,
        end_date=end,
        **dag_kwargs(city, "ingest_sensors", "ingest", "sensors"),
        deadline=DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=LATE_AFTER,
                               callback=AsyncCallback(run_late, kwargs={"expected": "2 hours after it was queued"})),
        doc_md=__doc__,
    )
    def ingest_sensors():
        @task(doc_md="Pull the interval's observations from the SensorThings service into landing/ (retried on "
              "network errors; skipped when no station has reported for the interval yet).")
        def fetch_from_portal(data_interval_start=None, data_interval_end=None):
            from sources.sensorthings import fetch_sensors

            if "portal" not in city.section("sensors"):
                return "no portal: the readings are delivered to landing/ directly"
            with task_errors():
                return str(fetch_sensors(city, data_interval_start, data_interval_end))

        @task(pool=pool, doc_md="Archive the interval's delivery once (Parquet, beside the working database) and "
              "record the load in `raw.sensor_loads`.")
        def land_sensor_files(fetched, data_interval_start=None, data_interval_end=None):
            from sources.deliveries import land_sensors

            with task_errors():
                return land_sensors(city, data_interval_start, data_interval_end)

        @task(pool=pool, doc_md="Gate `raw_sensors` for the interval: fields, units, unusable values.")
        def gate_raw_sensors(landed, run_id=None, data_interval_start=None, data_interval_end=None):
            return run_gate_task(city, "raw_sensors", run_id, interval_key(data_interval_start, data_interval_end))

        @task(pool=pool, doc_md="Flag the interval's readings in `staging.sensor_readings`: out of range, stuck, "
              "spikes, gaps (in DuckDB).")
        def build_staging_sensors(gated, data_interval_start=None, data_interval_end=None):
            from transforms.staging import stage_sensors

            with task_errors():
                return stage_sensors(city, data_interval_start, data_interval_end)

        @task(pool=pool, outlets=[outlet], doc_md="Gate `staging_sensor_readings`; on success the day counts as "
              "staged and gated, and the Asset event (with row counts) triggers build_indicators.")
        def gate_staging_sensors(counts, run_id=None, data_interval_start=None, data_interval_end=None,
                                 outlet_events=None):
            key = interval_key(data_interval_start, data_interval_end)
            result = run_gate_task(city, "staging_sensor_readings", run_id, key)
            outlet_events[outlet].extra = {"partition": key, "rows": counts}
            return result

        fetched = fetch_from_portal()
        landed = land_sensor_files(fetched)
        gated = gate_raw_sensors(landed)
        counts = build_staging_sensors(gated)
        close_run(city, [fetched, landed, gated, counts, gate_staging_sensors(counts)])

    return ingest_sensors()


for _city in deployed_cities():
    if "sensors" in _city.config:
        sensors_dag(_city)
