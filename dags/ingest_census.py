"""Census and boundaries of each city: land the delivered files, gate them, build staging, gate it.

One DAG per city (`<city>.ingest_census`), shaped at parse time by how the city's census comes:

- microdata (households, persons): land -> raw gates -> staging -> staging gate, one census year per run;
- published aggregate tables (`census.tables` in its config): load, checked against the source contracts while
  loading (a delivery that does not match stops before anything is written) -> staging.

A census arrives once a decade, on no clock: trigger the DAG when it is delivered, with conf `{"year": "2012"}`
and no logical date (the default is the latest census). A re-delivery of the same year is just another trigger.
"""

from airflow.sdk import Param, dag, task

from bienestar.orchestration import (
    census_year_of,
    close_run,
    dag_kwargs,
    default_args,
    deployed_cities,
    run_gate_task,
    staged,
    task_errors,
    writer_pool,
)


def census_dag(city):
    outlet = staged(city, "census")
    pool = writer_pool(city)

    @dag(
        schedule=None,
        # every other source's staging needs the census's areas: its tasks go first in the writer pool
        **dag_kwargs(city, "ingest_census", "ingest", "census",
                     default_args={**default_args(city), "priority_weight": 100}),
        params={"year": Param(city.vintage, type="string", enum=city.vintages,
                              description="the census year delivered")} if not city.census_tables else {},
        doc_md=__doc__,
    )
    def ingest_census():
        if city.census_tables:
            @task(pool=pool, doc_md="Load every census table and the boundaries into `raw`, each checked against "
                  "its source contract (columns, keys, units) while loading: a delivery that does not match "
                  "fails here and nothing is written.")
            def load_census_tables():
                from sources.census_tables import load_census_tables

                with task_errors():
                    return load_census_tables(city)

            @task(pool=pool, outlets=[outlet], doc_md="Build `staging.areas` and `staging.area_indicator_values` "
                  "from raw (values out of range quarantined); marks the city's census staged.")
            def build_staging_census(loaded, outlet_events=None):
                from transforms.census_tables import stage_census_tables

                with task_errors():
                    counts = stage_census_tables(city)
                outlet_events[outlet].extra = {"rows": loaded}
                return counts

            steps = [load_census_tables()]
            steps.append(build_staging_census(steps[0]))
            close_run(city, steps)
            return

        @task(pool=pool, doc_md="Land the census year's boundaries, households and persons from landing/ into "
              "`raw`: direct identifiers dropped, ids pseudonymised, coordinates generalised to the zone.")
        def land_census_files(params=None):
            from sources.deliveries import land_census

            with task_errors():
                return land_census(city, census_year_of(city, params, None))

        @task(pool=pool, doc_md="Gate `raw_census` and `raw_census_persons`: columns, keys, a file cut short, "
              "unusable values; a blocking failure stops the run (no retry).")
        def gate_raw_census(landed, run_id=None, params=None):
            year = census_year_of(city, params, None)
            return [run_gate_task(city, "raw_census", run_id, year),
                    run_gate_task(city, "raw_census_persons", run_id, year)]

        @task(pool=pool, doc_md="Type, place and check households and persons into `staging` (rows that fail a "
              "rule go to `audit.quarantine` with the reason).")
        def build_staging_census(gated, params=None):
            from transforms.staging import stage_census

            with task_errors():
                return stage_census(city, census_year_of(city, params, None))

        @task(pool=pool, outlets=[outlet], doc_md="Gate `staging_census`; on success the census year counts as "
              "staged and gated, and the Asset event (with row counts) triggers build_indicators.")
        def gate_staging_census(counts, run_id=None, params=None, outlet_events=None):
            year = census_year_of(city, params, None)
            result = run_gate_task(city, "staging_census", run_id, year)
            outlet_events[outlet].extra = {"partition": year, **counts}
            return result

        @task(pool=pool, doc_md="Land, stage and gate (`staging_survey`) the household survey of the census year it "
              "describes (docs/survey.md): identifiers dropped, ids pseudonymised, design and answers typed "
              "(failures quarantined); a blocking check failing stops the run.")
        def stage_survey_files(staged, run_id=None, params=None):
            from transforms.survey import land_and_stage_survey

            year = census_year_of(city, params, None)
            with task_errors():
                counts = land_and_stage_survey(city, year)
            if "skipped" in counts:
                return counts
            return {**counts, "gate": run_gate_task(city, "staging_survey", run_id, year)}

        landed = land_census_files()
        gated = gate_raw_census(landed)
        counts = build_staging_census(gated)
        gate = gate_staging_census(counts)
        steps = [landed, gated, counts]
        if city.settings.survey is not None:  # staged before the gate whose Asset event starts build_indicators
            survey = stage_survey_files(counts)
            survey >> gate
            steps.append(survey)
        close_run(city, [*steps, gate])

    return ingest_census()


for _city in deployed_cities():
    census_dag(_city)
