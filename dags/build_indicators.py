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
        from indicators.build import build_indicator_values

        return build_indicator_values(current_city())

    @task(pool=WRITER_POOL)
    def gate_indicator_values(run_id=None):
        run_gate_task("marts_indicator_values", run_id)

    @task(pool=WRITER_POOL)
    def build_index_scores():
        from indicators.build import build_index_scores

        return build_index_scores(current_city())

    @task(pool=WRITER_POOL, outlets=[MARTS])
    def gate_index_scores(run_id=None):
        run_gate_task("marts_index_scores", run_id)

    steps = [build_indicator_values(), gate_indicator_values(), build_index_scores(), gate_index_scores()]
    steps[0] >> steps[1] >> steps[2] >> steps[3]
    close_run(steps)


build_indicators()
