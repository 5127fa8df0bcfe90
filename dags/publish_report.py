"""Publish the validated marts as a read-only snapshot for planners, then build the analysts' report."""

from airflow.sdk import dag, task

from bienestar.orchestration import DEFAULT_ARGS, MARTS, WRITER_POOL, close_run, current_city


@dag(
    schedule=[MARTS],
    catchup=False,
    tags=["bienestar", "publish", "report"],
    default_args=DEFAULT_ARGS,
    max_active_runs=1,
    doc_md=__doc__,
)
def publish_report():
    @task(pool=WRITER_POOL)
    def publish_snapshot(run_id=None):
        from airflow.sdk.exceptions import AirflowFailException

        from bienestar.publish import publish_snapshot
        from expectations.gate import GateFailed

        try:
            return str(publish_snapshot(current_city(), run_id))
        except GateFailed as exc:  # the new snapshot failed its suite: current.duckdb stays as it was
            raise AirflowFailException(str(exc)) from exc

    @task
    def build_report():
        from bienestar.publish import build_city_report

        return str(build_city_report(current_city()))

    steps = [publish_snapshot(), build_report()]
    steps[0] >> steps[1]
    close_run(steps)


publish_report()
