"""Indicators and the composite index, rebuilt whenever a source's staging tables change."""

from airflow.sdk import dag, task

from bienestar.orchestration import (
    DEFAULT_ARGS,
    MARTS,
    STAGED_CENSUS,
    STAGED_SENSORS,
    STAGED_SERVICES,
    WRITER_POOL,
    close_run,
    current_city,
    is_census_tables,
    marts_periods,
    run_gate_task,
)


@dag(
    schedule=(STAGED_CENSUS | STAGED_SERVICES | STAGED_SENSORS),
    catchup=False,
    tags=["bienestar", "indicators"],
    default_args=DEFAULT_ARGS,
    max_active_runs=1,
    doc_md=__doc__,
)
def build_indicators():
    @task(pool=WRITER_POOL)
    def build_indicator_values():
        city = current_city()
        if is_census_tables(city):  # published tables: values and scores of every census year in one step
            from indicators.build_tables import build_table_marts

            return build_table_marts(city)
        from indicators.build import build_indicator_values

        return build_indicator_values(city)

    @task(pool=WRITER_POOL)
    def gate_indicator_values(run_id=None):
        for period in marts_periods(current_city()):
            run_gate_task("marts_indicator_values", run_id, period)

    @task(pool=WRITER_POOL)
    def build_index_scores():
        city = current_city()
        if is_census_tables(city):
            from indicators.change import build_change_marts, change_periods

            return [build_change_marts(city, a, b) for a, b in change_periods(city)]
        from indicators.build import build_index_scores

        return build_index_scores(city)

    @task(pool=WRITER_POOL, outlets=[MARTS])
    def gate_index_scores(run_id=None):
        for period in marts_periods(current_city()):
            run_gate_task("marts_index_scores", run_id, period)

    steps = [build_indicator_values(), gate_indicator_values(), build_index_scores(), gate_index_scores()]
    steps[0] >> steps[1] >> steps[2] >> steps[3]
    close_run(steps)


build_indicators()
