"""Publish each city's validated marts as a read-only snapshot for planners, then build the analysts' report.

The snapshot is copied to a new file, gated (`published_snapshot`), then swapped in atomically: a failed run
leaves `published/<city>/current.duckdb` and the report as they were.
"""

from airflow.sdk import dag, task

from bienestar.orchestration import (
    close_run,
    dag_kwargs,
    deployed_cities,
    marts,
    task_errors,
    writer_pool,
)


def publish_dag(city):
    @dag(
        schedule=[marts(city)],
        **dag_kwargs(city, "publish_report", "publish", "report"),
        doc_md=__doc__,
    )
    def publish_report():
        @task(pool=writer_pool(city), doc_md="Copy `marts` to a new DuckDB file, gate it (`published_snapshot`), "
              "and swap it in as `published/<city>/current.duckdb` (kept as `<published at>.duckdb` too).")
        def publish_snapshot(run_id=None):
            from bienestar.publish import publish_snapshot

            with task_errors():
                return str(publish_snapshot(city, run_id))

        @task(doc_md="Build the report (HTML, PDF, downloads) into `reports/<city>/<published at>/` from the "
              "published snapshot, point `reports/<city>/latest` at it (served in the UI under Bienestar) and "
              "announce it through the `bienestar_reports` Connection when there is one.")
        def build_report(published):
            from bienestar.alerts import report_published
            from bienestar.publish import build_city_report

            with task_errors():
                page = build_city_report(city)
            report_published(city, page)  # the analysts' channel, when the bienestar_reports Connection exists
            return str(page)

        published = publish_snapshot()
        close_run(city, [published, build_report(published)])

    return publish_report()


for _city in deployed_cities():
    publish_dag(_city)
