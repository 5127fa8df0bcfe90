"""Airflow local settings of a bienestar deployment (Airflow imports this module from its plugins folder in
every process it starts).

The processes that fork a child per task (the scheduler's LocalExecutor workers, a Celery worker) import the
pipeline's heavy libraries once, before they fork, so a task starts in a fraction of a second instead of
importing pandas, DuckDB and Great Expectations again (~3 s a task, 8 to 9 tasks a daily run). The dag-processor,
the api-server and the CLI import nothing more: DAG files stay cheap to parse.
"""

import sys

# The SQLite metadata database of `make airflow` (see bienestar.deployment): writers wait up to a minute for the
# file lock instead of failing at once with "database is locked" (a backfill inserting 30 runs while the scheduler
# works). PostgreSQL needs none of this.
sqlite_connect_args = {"timeout": 60}

FORKING = ({"scheduler"}, {"celery", "worker"})


def _forks_tasks(argv: list[str]) -> bool:
    words = set(argv[1:3])
    return any(wanted <= words for wanted in FORKING)


if _forks_tasks(sys.argv):
    import logging

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import duckdb  # noqa: F401
    import great_expectations  # noqa: F401
    import great_expectations.expectations  # noqa: F401
    import pandas  # noqa: F401

    import expectations.gate  # noqa: F401
    import sources.deliveries  # noqa: F401
    import transforms.staging  # noqa: F401
