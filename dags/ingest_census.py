"""Census and boundaries: land the delivered files, gate them, build staging, gate it.

A city whose census comes as microdata (households, persons) goes through the microdata gates; a city whose
census comes as published aggregate tables (`census.tables` in its config) is loaded by its source contracts,
which stop a delivery that does not match before anything is written.
"""

from airflow.sdk import dag, task

from bienestar.orchestration import (
    DEFAULT_ARGS,
    STAGED_CENSUS,
    WRITER_POOL,
    census_year_of,
    close_run,
    current_city,
    is_census_tables,
    run_gate_task,
)


@dag(
    # A census arrives once a decade, on no clock: an operator triggers it on delivery, with a logical date in
    # the census year (the year picks the delivery: census.vintage or census.earlier_vintages).
    schedule=None,
    catchup=False,
    tags=["bienestar", "ingest", "census"],
    default_args=DEFAULT_ARGS,
    max_active_runs=1,
    doc_md=__doc__,
)
def ingest_census():
    @task(pool=WRITER_POOL)
    def land_census_files(logical_date=None):
        city = current_city()
        if is_census_tables(city):
            from sources.census_tables import load_census_tables

            return load_census_tables(city)
        from sources.deliveries import land_census

        return land_census(city, census_year_of(city, logical_date))

    @task(pool=WRITER_POOL)
    def gate_raw_census(run_id=None, logical_date=None):
        city = current_city()
        if is_census_tables(city):
            return "aggregate tables: checked against their source contracts while loading"
        year = census_year_of(city, logical_date)
        run_gate_task("raw_census", run_id, year)
        run_gate_task("raw_census_persons", run_id, year)

    @task(pool=WRITER_POOL)
    def build_staging_census(logical_date=None):
        city = current_city()
        if is_census_tables(city):
            from transforms.census_tables import stage_census_tables

            return stage_census_tables(city)
        from transforms.staging import stage_census

        return stage_census(city, census_year_of(city, logical_date))

    @task(pool=WRITER_POOL, outlets=[STAGED_CENSUS])
    def gate_staging_census(run_id=None, logical_date=None):
        city = current_city()
        if is_census_tables(city):
            return "aggregate tables: gated as marts (marts_indicator_values) for every census year"
        run_gate_task("staging_census", run_id, census_year_of(city, logical_date))

    steps = [land_census_files(), gate_raw_census(), build_staging_census(), gate_staging_census()]
    steps[0] >> steps[1] >> steps[2] >> steps[3]
    close_run(steps)


ingest_census()
